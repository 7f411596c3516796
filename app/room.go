package app

import (
	"encoding/json"
	"sync"
	"time"

	"meet/mesh"
	"meet/protocol"
)

// liveRoom is the in-memory state of a room that has participants now:
// who is connected, in which order, and the media topology. What must
// survive a restart is in the store; this is rebuilt from joins.
type liveRoom struct {
	id     string
	policy modePolicy

	// writes orders the room's stored changes (settings, stage, owner):
	// each is decided under mu, written to the store holding only writes,
	// and applied under mu again, so the live copy follows the store in
	// the store's order while joins, media and chat never wait on SQLite.
	// Lock order: writes before mu.
	writes sync.Mutex

	mu           sync.Mutex
	participants []*participant // join order
	mode         string
	epoch        uint64
	ended        bool
	retired      bool        // emptied and forgotten by the hub: joins go to its successor
	backToMesh   *time.Timer // running while an SFU room is small enough for mesh
	sfuCleanup   *time.Timer // closes SFU connections clients forgot to close
	state        roomState   // owner, settings, stage and raised hands (stage.go)
}

func newLiveRoom(id string, policy modePolicy) *liveRoom {
	return &liveRoom{id: id, policy: policy, mode: protocol.ModeMesh, epoch: 1}
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

// join adds p and tells everyone, under the room's lock so that every
// participant sees joins and leaves in one order. Sends only queue (they
// never block), and SFU peers negotiate from their own goroutines, so
// holding the lock across them is cheap. It refuses with errRoomFull when
// the room has limit participants (0: no limit), errRoomEnded when the
// room has ended, and errRoomRetired when it emptied and the hub forgot it.
func (r *liveRoom) join(p *participant, limit int, welcome func(others []protocol.Participant, mode string, epoch uint64) []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.ended:
		return errRoomEnded
	case r.retired:
		return errRoomRetired
	case limit > 0 && len(r.participants) >= limit:
		return errRoomFull
	}
	// The live owner decides the role: the stored room read before the
	// join may predate a hand-over.
	p.role = r.roleLocked(p)
	others := make([]protocol.Participant, 0, len(r.participants))
	for _, o := range r.participants {
		others = append(others, o.view())
	}
	r.participants = append(r.participants, p)
	// The joiner that tips the room over learns the new mode from its
	// welcome; the others from a mode message just before it joins.
	if r.mode == protocol.ModeMesh && len(r.participants) > r.policy.meshMax {
		r.switchToSFULocked(p)
		// SFU connections left over from the last SFU period may be
		// closed on the client's side already (its sfu-close can be on
		// the way); the switch starts everyone afresh.
		for _, q := range r.participants {
			r.disconnectSFULocked(q)
		}
	}
	p.Send(welcome(others, r.mode, r.epoch))
	r.broadcastLocked(encode(protocol.ParticipantJoined{Type: protocol.TypeParticipantJoined, Participant: p.view()}), p)
	if r.mode == protocol.ModeSFU {
		// Everyone without SFU connections gets them now: all of the
		// room on a switch, only the joiner otherwise.
		for _, q := range r.participants {
			r.connectSFULocked(q)
		}
	}
	r.reconsiderModeLocked()
	return nil
}

// leave removes p and tells the others. It reports whether p was present
// and whether the room, now empty, retired: the caller (the hub) forgets a
// retired room, and a join that still holds it goes elsewhere.
func (r *liveRoom) leave(p *participant, reason string) (present, retired bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	present = r.leaveLocked(p, reason)
	return present, r.retireIfEmptyLocked()
}

// retireIfEmpty retires the room if nobody is in it.
func (r *liveRoom) retireIfEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retireIfEmptyLocked()
}

func (r *liveRoom) retireIfEmptyLocked() bool {
	if len(r.participants) > 0 {
		return false
	}
	r.retired = true
	r.stopTimersLocked()
	return true
}

// leaveLocked removes p, tells the others, and lowers p's hand. It reports
// whether p was present.
func (r *liveRoom) leaveLocked(p *participant, reason string) bool {
	i := r.indexLocked(p.id)
	if i < 0 {
		return false
	}
	handUp := r.dropHandLocked(p)
	r.participants = append(r.participants[:i], r.participants[i+1:]...)
	r.broadcastLocked(encode(protocol.ParticipantLeft{Type: protocol.TypeParticipantLeft, ID: p.id, Reason: reason}), nil)
	if handUp {
		r.broadcastLocked(r.stageMessageLocked(), nil)
	}
	r.disconnectSFULocked(p)
	r.reconsiderModeLocked()
	return true
}

func (r *liveRoom) indexLocked(id string) int {
	for i, p := range r.participants {
		if p.id == id {
			return i
		}
	}
	return -1
}

// broadcastLocked sends msg to every participant but except. The caller
// holds r.mu. The message is encoded once by the caller, whatever the size
// of the room.
func (r *liveRoom) broadcastLocked(msg []byte, except *participant) {
	for _, p := range r.participants {
		if p != except {
			p.Send(msg)
		}
	}
}

// updateMedia records a media change of p and announces it to the others.
// It returns why the change was refused, or "": only those who may publish
// (stage.go) may announce a track, while anyone may withdraw one.
func (r *liveRoom) updateMedia(p *participant, m *protocol.Media) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return ""
	}
	if m.Action != protocol.ActionUnpublished && !r.mayPublishLocked(p) {
		return r.publishRefusalLocked()
	}
	if !p.applyMedia(m.Source, m.Action, m.StreamID) {
		return ""
	}
	if peer := p.sfuPeer; peer != nil {
		// Forwarding follows the publisher's own word: a paused camera
		// costs subscribers nothing.
		switch m.Action {
		case protocol.ActionPaused:
			peer.SetPaused(m.Source, true)
		case protocol.ActionResumed, protocol.ActionPublished:
			peer.SetPaused(m.Source, false)
		case protocol.ActionUnpublished:
			peer.Unpublish(m.Source)
		}
	}
	out := protocol.Media{Type: protocol.TypeMedia, From: p.id, Source: m.Source, Action: m.Action, StreamID: m.StreamID}
	r.broadcastLocked(encode(out), p)
	return ""
}

// rename changes p's display name and announces it to everyone, p included,
// so every list shows the name the server accepted.
func (r *liveRoom) rename(p *participant, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 || p.name == name {
		return
	}
	p.name = name
	r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), nil)
}

// end marks the room ended, sends msg to everyone and closes their sockets
// with code. It returns the participants that were connected.
func (r *liveRoom) end(msg []byte, code int, reason string) []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	gone := r.participants
	r.participants = nil
	for _, p := range gone {
		p.Send(msg)
		p.close(code, reason)
		r.disconnectSFULocked(p)
	}
	r.stopTimersLocked()
	return gone
}

// snapshot returns the participants' public views in join order.
func (r *liveRoom) snapshot() []protocol.Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]protocol.Participant, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p.view())
	}
	return out
}

// counts returns the number online and the mode, for the room list.
func (r *liveRoom) counts() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants), r.mode
}

// Peer implements mesh.Room: only participants of this room can be reached.
func (r *liveRoom) Peer(id string) (mesh.Peer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.indexLocked(id); i >= 0 {
		return r.participants[i], true
	}
	return nil, false
}

// roleOf reads p's role, which a hand-over of ownership changes under the
// room's lock.
func (r *liveRoom) roleOf(p *participant) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.role
}
