// Package mesh relays WebRTC negotiation between two participants of one
// room. It never touches media and never imports Pion: in a mesh room the
// browsers talk to each other, and the server only carries their words.
package mesh

import (
	"encoding/json"
	"errors"
	"fmt"

	"meet/protocol"
)

// Errors the relay refuses a message with. app maps them to protocol codes.
var (
	// ErrUnknownPeer means the target is not a participant of the sender's
	// room: it left, never existed, or is in another room.
	ErrUnknownPeer = errors.New("mesh: no such participant in this room")
	// ErrSelf means a participant addressed itself.
	ErrSelf = errors.New("mesh: cannot signal yourself")
)

// Peer is one participant that can receive a relayed message.
type Peer interface {
	Send(msg []byte)
}

// Room looks up the participants of one room. The relay sees no other
// room, which is what keeps signaling from crossing rooms.
type Room interface {
	Peer(id string) (Peer, bool)
}

// Forward validates a signal from the participant fromID and delivers it to
// its target in room. The sender's id is stamped by the server: whatever the
// client put in From is overwritten.
func Forward(room Room, fromID string, msg *protocol.Signal) error {
	if msg.To == fromID {
		return ErrSelf
	}
	target, ok := room.Peer(msg.To)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, msg.To)
	}
	out := *msg
	out.Type = protocol.TypeSignal
	out.From = fromID
	data, err := json.Marshal(&out)
	if err != nil {
		return fmt.Errorf("mesh: encode signal: %w", err)
	}
	target.Send(data)
	return nil
}
