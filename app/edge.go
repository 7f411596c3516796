package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/gin-gonic/gin"

	"meet/protocol"
	"meet/sfu"
	"meet/store"
)

// An edge's side of a cascade (cascade.go): it serves viewers of a room
// hosted by another node, the origin. Each viewer is a node socket from
// the origin (serveEdge), which carries the viewer's subscribe
// negotiation; the room's tracks come once over a pipe this node opens to
// the origin, shared by all the viewers of that room it serves.

// pipes are the edge's open pipes, by room and origin.
type pipes struct {
	s  *Server
	mu sync.Mutex
	m  map[pipeKey]*pipeLink
}

type pipeKey struct{ room, origin string }

// pipeLink is one pipe and the viewers using it.
type pipeLink struct {
	pipe  *sfu.Pipe
	sock  *nodeSocket
	users int
}

// acquire is the pipe of room from origin, opened on its first viewer.
func (ps *pipes) acquire(roomID string, origin store.Node) (*pipeLink, error) {
	key := pipeKey{roomID, origin.ID}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if l := ps.m[key]; l != nil {
		l.users++
		return l, nil
	}
	media, err := ps.s.sfu.Room(roomID)
	if err != nil {
		return nil, err
	}
	l := &pipeLink{sock: newNodeSocket(), users: 1}
	if l.pipe, err = media.JoinPipe(origin.ID, l.sock.push); err != nil {
		return nil, err
	}
	if ps.m == nil {
		ps.m = map[pipeKey]*pipeLink{}
	}
	ps.m[key] = l
	go ps.run(key, l, origin)
	return l, nil
}

// run connects the pipe to the origin and relays its negotiation until
// either side ends it; then the pipe, and the viewers it fed, close.
func (ps *pipes) run(key pipeKey, l *pipeLink, origin store.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), proxyDialTimeout)
	conn, err := ps.s.dialNode(ctx, origin, "/internal/pipe", url.Values{"room": {key.room}})
	cancel()
	if err != nil {
		ps.s.log.Warn("open a pipe to the room's host", "room", key.room, "origin", origin.ID, "err", err)
		l.sock.close()
	} else {
		go closeWhenDone(l.sock, l.pipe.Done())
		l.sock.serve(conn, func(data []byte) {
			var m protocol.SFU
			if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypeSFU {
				if err := l.pipe.HandleSignal(&m); err != nil {
					ps.s.log.Debug("pipe signal refused", "room", key.room, "origin", origin.ID, "err", err)
				}
			}
		})
	}
	l.pipe.Close()
	ps.mu.Lock()
	if ps.m[key] == l {
		delete(ps.m, key)
	}
	ps.mu.Unlock()
}

// release lets go of the pipe for one viewer; the last one closes it.
func (ps *pipes) release(key pipeKey, l *pipeLink) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if l.users--; l.users <= 0 {
		if ps.m[key] == l {
			delete(ps.m, key)
		}
		l.sock.close()
	}
}

// count is how many pipes are open.
func (ps *pipes) count() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}

// serveEdge serves one viewer of a room hosted by the calling node: the
// viewer's subscription in this node's SFU, fed by the room's pipe.
func (s *Server) serveEdge(c *gin.Context) {
	originID := s.callingNode(c.Request)
	if originID == "" {
		c.AbortWithStatus(http.StatusForbidden)
		return
	}
	roomID, participant := c.Query("room"), c.Query("participant")
	origin, err := s.store.Node(originID)
	if errors.Is(err, store.ErrNotFound) || roomID == "" || participant == "" {
		c.AbortWithStatus(http.StatusBadRequest)
		return
	} else if err != nil {
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	conn, err := nodeUpgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return
	}
	key := pipeKey{roomID, originID}
	pipe, err := s.pipes.acquire(roomID, *origin)
	if err != nil {
		_ = conn.Close()
		return
	}
	defer s.pipes.release(key, pipe)
	sock := newNodeSocket()
	media, err := s.sfu.Room(roomID)
	var peer *sfu.Peer
	if err == nil {
		peer, err = media.Join(participant, sock.push)
	}
	if err != nil {
		_ = conn.Close()
		return
	}
	defer peer.Close()
	go closeWhenDone(sock, pipe.sock.done)
	sock.serve(conn, func(data []byte) {
		var m edgeMessage
		switch {
		case json.Unmarshal(data, &m) != nil:
		case m.SFU != nil:
			if err := peer.HandleSignal(m.SFU); err != nil {
				s.log.Debug("edge viewer signal refused", "room", roomID, "participant", participant, "err", err)
			}
		case m.View != nil:
			peer.SetViews(m.View)
		}
	})
}
