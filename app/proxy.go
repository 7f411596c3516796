package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"meet/protocol"
	"meet/store"
)

// One address for users (issue 18): any node serves every page and API,
// and a WebSocket join that reaches a node other than the room's host is
// forwarded to the host whole, the upgrade request and then both
// directions (httputil.ReverseProxy), so that a user behind one load
// balancer never notices which node the balancer picked. The reads of a
// room's live state (GET /api/rooms/:id and its participants) are
// forwarded the same way.
//
// The forwarding node has checked the request's origin and identity
// already; the host checks them again. It can: the nodes share the secret
// (store.Secret), the allowed origins are one setting for the whole
// deployment, and the forwarded request keeps the Host the browser asked
// for, so a same-origin page is still one. The identity travels as a
// bearer token, so that a cookie's name (__Host- over TLS, which the hop
// between nodes may not be) does not matter.
//
// A forwarded request is marked (proxiedHeader, the forwarding node's id,
// and the client's address, signed with the shared secret) and is always
// served where it arrives, so that two nodes that disagree about a room
// for a moment never forward a join in a circle. The host uses the
// client's address for its per-address limits instead of the forwarding
// node's.

const (
	// proxiedHeader names the node that forwarded the request.
	proxiedHeader = "X-Meet-Proxied"
	// proxyIPHeader is the client's address as the forwarding node saw it,
	// and proxySigHeader the MAC of both under the shared secret.
	proxyIPHeader  = "X-Meet-Client-Ip"
	proxySigHeader = "X-Meet-Proxy-Sig"

	// proxyDialTimeout bounds connecting to the host: a node that does not
	// answer this soon is unreachable, and the join is placed again.
	proxyDialTimeout = 3 * time.Second
)

var errHostUnreachable = newError(http.StatusBadGateway, protocol.CodeInternal,
	"The server hosting this room cannot be reached. Try again in a moment.")

// newProxyTransport is the connection pool the forwarded requests share.
func newProxyTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: proxyDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
}

// forwarded reports whether a node of this deployment forwarded r: its
// mark is signed with the shared secret. Such a request is served here,
// and ip is the client's address the forwarding node saw. A mark that
// does not verify is no mark: a client cannot keep its join from the
// room's host by forging one.
func (s *Server) forwarded(r *http.Request) (ip string, ok bool) {
	node, ip := r.Header.Get(proxiedHeader), r.Header.Get(proxyIPHeader)
	if node == "" || ip == "" {
		return "", false
	}
	return ip, hmac.Equal([]byte(r.Header.Get(proxySigHeader)), []byte(s.proxyMAC(node, ip)))
}

func (s *Server) isForwarded(r *http.Request) bool {
	_, ok := s.forwarded(r)
	return ok
}

// proxyMAC signs the forwarding node's id and the client address it names.
func (s *Server) proxyMAC(node, ip string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte("meet proxy\n" + node + "\n" + ip))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// clientIP is the address a request comes from: the one the forwarding
// node names, when a node of this deployment forwarded it (signed with the
// shared secret), else gin's (the peer, or a trusted proxy's
// X-Forwarded-For).
func (s *Server) clientIP(c *gin.Context) string {
	if ip, ok := s.forwarded(c.Request); ok {
		return ip
	}
	return c.ClientIP()
}

// placedHost is the live node room id is placed on, or nil when it is not
// placed or its node is dead.
func (s *Server) placedHost(id string) (*store.Node, error) {
	p, err := s.store.Placement(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.NodeID == s.node.id {
		return &store.Node{ID: s.node.id}, nil
	}
	n, err := s.store.Node(p.NodeID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case time.Since(n.HeartbeatAt) >= s.node.timeout:
		return nil, nil
	}
	return n, nil
}

// joinHost decides, before the upgrade, where a join of room id is
// served: on the returned node (true), or here (false). A room that is
// not placed, or whose node is dead, is placed first, on the least-loaded
// live node (store.PlaceRoom). A forwarded join, a room that does not
// exist or has ended (the join here refuses it with the reason), and a
// database that fails are served here.
func (s *Server) joinHost(r *http.Request, id string) (store.Node, bool) {
	if s.isForwarded(r) || id == "" {
		return store.Node{}, false
	}
	if stored, err := s.store.Room(id); err != nil || stored.Status == store.StatusEnded {
		return store.Node{}, false
	}
	host, err := s.placedHost(id)
	if err == nil && host == nil {
		var live []store.Node
		if live, err = s.liveNodes(); err == nil {
			var placed store.Node
			placed, err = s.store.PlaceRoom(id, s.node.id, live)
			host = &placed
		}
	}
	if err != nil {
		s.log.Error("find the room's host", "room", id, "node", s.node.id, "err", err)
		return store.Node{}, false
	}
	return *host, host.ID != s.node.id
}

// joinElsewhere forwards a WebSocket join of roomID to the room's host
// when that is another node, and reports whether the request is answered:
// forwarded, or refused because no host could be reached. False: the
// join is served here. A host that cannot be reached is tried once more,
// or, once it is dead, the room is placed again and the join goes to the
// new host, which may be this node.
func (s *Server) joinElsewhere(c *gin.Context, roomID string) bool {
	host, ok := s.joinHost(c.Request, roomID)
	for try := 0; ok; try++ {
		if s.forward(c, host) {
			return true
		}
		if try == 1 {
			s.abortWithError(c, errHostUnreachable)
			return true
		}
		host, ok = s.placeAgain(roomID, host)
	}
	return false
}

// placeAgain is the host of room id after a failed forward to host: the
// same node while it is live (to try again), else the room's new
// placement, false when that is this node.
func (s *Server) placeAgain(id string, host store.Node) (store.Node, bool) {
	live, err := s.liveNodes()
	if err != nil {
		s.log.Error("place room again", "room", id, "err", err)
		return host, true
	}
	if _, stillLive := findLive(live, host.ID); stillLive {
		return host, true
	}
	placed, err := s.store.PlaceRoom(id, s.node.id, live)
	if err != nil {
		s.log.Error("place room again", "room", id, "err", err)
		return host, true
	}
	return placed, placed.ID != s.node.id
}

func findLive(live []store.Node, id string) (store.Node, bool) {
	for _, n := range live {
		if n.ID == id {
			return n, true
		}
	}
	return store.Node{}, false
}

// toRoomHost forwards a read of a room's live state to the room's host,
// when that is another live node: the online count and the participants
// are there; and so a change the live room must make itself, whose answer
// depends on it (a recording started or stopped, a ban lifted). A room not
// placed is not live anywhere; when the host cannot be reached, this node
// answers with what it knows.
func (s *Server) toRoomHost(c *gin.Context) {
	if s.isForwarded(c.Request) {
		return
	}
	host, err := s.placedHost(c.Param("id"))
	if err != nil {
		s.log.Warn("find the room's host", "room", c.Param("id"), "err", err)
		return
	}
	if host != nil && host.ID != s.node.id && s.forward(c, *host) {
		c.Abort()
	}
}

// proxyTarget is the address node n is reached at from another node: its
// internal address, else its public one.
func proxyTarget(n store.Node) (*url.URL, error) {
	raw := n.InternalURL
	if raw == "" {
		raw = n.PublicURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("node %s has no address to forward to (internal %q, public %q)", n.ID, n.InternalURL, n.PublicURL)
	}
	return u, nil
}

// forward sends the request to node host and its answer back, and reports
// whether it did: false, with nothing written, when host could not be
// reached.
func (s *Server) forward(c *gin.Context, host store.Node) bool {
	return s.forwardTo(c, host, false)
}

// errNotOnNode is a forwarded request's 404 that forwardTo was told to
// pass over: another node may have what it asks for.
var errNotOnNode = errors.New("not on that node")

// forwardTo is forward; with skipNotFound, a 404 of host's is not written
// either, and counts as not forwarded.
func (s *Server) forwardTo(c *gin.Context, host store.Node, skipNotFound bool) bool {
	target, err := proxyTarget(host)
	if err != nil {
		s.log.Error("forward to the room's host", "node", s.node.id, "err", err)
		return false
	}
	failed := false
	rp := &httputil.ReverseProxy{
		Transport: s.proxyTransport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The address the browser used: the host's origin check and
			// TURN credentials see what this node would have.
			pr.Out.Host = pr.In.Host
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			ip := c.ClientIP()
			pr.Out.Header.Set(proxiedHeader, s.node.id)
			pr.Out.Header.Set(proxyIPHeader, ip)
			pr.Out.Header.Set(proxySigHeader, s.proxyMAC(s.node.id, ip))
			// The identity this node read from a cookie or a token travels
			// as a token; a request without one (WHEP) keeps its own.
			if _, ok := c.Get(identityKey); ok {
				pr.Out.Header.Set("Authorization", "Bearer "+s.tokens.sign(identityOf(c)))
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if skipNotFound && res.StatusCode == http.StatusNotFound {
				return errNotOnNode
			}
			// This node's middleware set the security headers already,
			// and the identity's cookie when it issued one: the host's
			// copies would only double them.
			for name := range c.Writer.Header() {
				res.Header.Del(name)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errNotOnNode) {
				failed = true
				return
			}
			s.log.Warn("forward to the room's host", "node", s.node.id, "host", host.ID, "url", target.String(), "path", r.URL.Path, "err", err)
			// Nothing written: the caller decides. Else the answer (an
			// upgraded connection) had begun, and has ended.
			failed = !c.Writer.Written()
		},
	}
	rp.ServeHTTP(c.Writer, c.Request)
	return !failed
}

// toPlacedHost forwards a request that makes room :id live (a WHIP
// encoder) or watches it (a WHEP player) to the room's host, placing the
// room first when it is not live anywhere, as a WebSocket join is
// (joinElsewhere).
func (s *Server) toPlacedHost(c *gin.Context) {
	if s.joinElsewhere(c, c.Param("id")) {
		c.Abort()
	}
}

// toSessionNode forwards a request about a WHIP or WHEP session this node
// does not hold (has) to the live node that does, asking each in turn: a
// session's URL names no node, and only the one that answered its POST
// holds it. When none does, this node answers (404).
func (s *Server) toSessionNode(has func(id string) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if has(c.Param("session")) || s.isForwarded(c.Request) {
			return
		}
		live, err := s.store.LiveNodes(time.Now(), s.node.timeout)
		if err != nil {
			s.log.Warn("find the node of a session", "node", s.node.id, "err", err)
			return
		}
		for _, n := range live {
			if n.ID != s.node.id && s.forwardTo(c, n, true) {
				c.Abort()
				return
			}
		}
	}
}
