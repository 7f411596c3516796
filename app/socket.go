package app

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"meet/app/room"
)

// How often the server pings each socket, and how long it waits for any
// sign of life before it counts the socket dropped.
const (
	pingPeriod = 10 * time.Second
	pongWait   = 15 * time.Second
)

// The session keys under which a socket keeps its adapter and, once it
// joined, its participant.
const (
	socketKey      = "socket"
	participantKey = "p"
)

// socket is a melody session as the room sees it: somewhere to queue
// messages and a close frame. There is one per session, made when it
// connects, so that the room can tell a participant's current socket from
// an older one by comparing them.
type socket struct{ ss *melody.Session }

func (s *socket) Write(msg []byte) error { return s.ss.Write(msg) }

func (s *socket) Close(code int, reason string) error {
	return s.ss.CloseWithMsg(closeMessage(code, reason))
}

// attachSocket makes the one adapter of ss.
func attachSocket(ss *melody.Session) *socket {
	sock := &socket{ss: ss}
	ss.Set(socketKey, sock)
	return sock
}

// socketOf returns the adapter of ss, or nil before it connected.
func socketOf(ss *melody.Session) *socket {
	v, _ := ss.Get(socketKey)
	sock, _ := v.(*socket)
	return sock
}

// participantOf returns the participant ss carries, or nil when it has not
// joined (or was refused).
func participantOf(ss *melody.Session) *room.Participant {
	v, ok := ss.Get(participantKey)
	if !ok {
		return nil
	}
	p, _ := v.(*room.Participant)
	return p
}

func closeMessage(code int, text string) []byte {
	return websocket.FormatCloseMessage(code, text)
}

// encode marshals a server message. Every message type is a plain struct of
// strings, numbers, slices and maps, so an error here is a programming bug.
func encode(msg any) []byte {
	data, err := json.Marshal(msg)
	if err != nil {
		panic("app: encode message: " + err.Error())
	}
	return data
}
