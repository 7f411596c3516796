package app

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"meet/store"
)

// Nodes of a cascade (cascade.go, edge.go) talk over WebSockets of their
// own, apart from the participants' Melody sockets: one per viewer served
// by an edge, and one per pipe. Each carries the SFU's negotiation as JSON
// text messages. The caller is named by the signed headers of a forwarded
// request (proxy.go), which only a node holding the shared secret can
// write.

const (
	// nodeQueue bounds the messages waiting to be written on one node
	// socket: negotiation is a handful of messages at a time, so a full
	// queue means the other node has stopped reading.
	nodeQueue = 256
	// nodeWriteWait bounds one write to another node.
	nodeWriteWait = 10 * time.Second
	// nodeCaller stands for the client address in the signed headers of a
	// node's own request: no browser is behind it.
	nodeCaller = "node"
)

// nodeUpgrader accepts node sockets: they come from other nodes' Go
// clients, which send no Origin, and are checked by their signature.
var nodeUpgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// nodeSocket is one WebSocket to or from another node: messages queued by
// any goroutine without blocking (the SFU sends under its locks), written
// by one goroutine, and read by another.
type nodeSocket struct {
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func newNodeSocket() *nodeSocket {
	return &nodeSocket{out: make(chan []byte, nodeQueue), done: make(chan struct{})}
}

// push queues a message for the other node. A socket whose queue is full
// is closed: the other node is gone or stuck, and its side starts over.
func (n *nodeSocket) push(data []byte) {
	select {
	case n.out <- data:
	case <-n.done:
	default:
		n.close()
	}
}

// close ends the socket; serve returns.
func (n *nodeSocket) close() { n.once.Do(func() { close(n.done) }) }

// serve writes the queued messages on conn and hands each message read to
// handle, until either side ends or close; then it closes conn.
func (n *nodeSocket) serve(conn *websocket.Conn, handle func([]byte)) {
	go func() {
		for {
			select {
			case data := <-n.out:
				_ = conn.SetWriteDeadline(time.Now().Add(nodeWriteWait))
				if conn.WriteMessage(websocket.TextMessage, data) != nil {
					n.close()
					return
				}
			case <-n.done:
				_ = conn.Close()
				return
			}
		}
	}()
	defer n.close()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		handle(data)
	}
}

// dialNode opens a node socket to path on node target, signed as this
// node's.
func (s *Server) dialNode(ctx context.Context, target store.Node, path string, query url.Values) (*websocket.Conn, error) {
	u, err := proxyTarget(target)
	if err != nil {
		return nil, err
	}
	ws := *u
	ws.Scheme = "ws"
	if u.Scheme == "https" {
		ws.Scheme = "wss"
	}
	ws.Path, ws.RawQuery = path, query.Encode()
	header := http.Header{}
	header.Set(proxiedHeader, s.node.id)
	header.Set(proxyIPHeader, nodeCaller)
	header.Set(proxySigHeader, s.proxyMAC(s.node.id, nodeCaller))
	dialer := websocket.Dialer{HandshakeTimeout: proxyDialTimeout}
	conn, resp, err := dialer.DialContext(ctx, ws.String(), header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return conn, err
}

// callingNode is the node that signed r, "" when r is not a node's.
func (s *Server) callingNode(r *http.Request) string {
	if ip, ok := s.forwarded(r); ok && ip == nodeCaller {
		return r.Header.Get(proxiedHeader)
	}
	return ""
}
