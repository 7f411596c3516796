// Package room is the live-room domain: the rooms that have participants
// now, their participants and the resumable stream of each, the hub that
// finds them, the policy that moves a room between mesh and SFU, and the
// stage and owner controls. It never touches a socket: a participant
// writes through a Conn the caller provides, and a request the room turns
// down comes back as a *Refusal for the caller to word on the wire.
package room

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"meet/mesh"
	"meet/protocol"
	"meet/store"
)

// Config is what every live room of a hub shares.
type Config struct {
	// Store keeps what outlives the live room: owner, settings, stage.
	Store *store.Store
	Log   *slog.Logger
	// Policy moves rooms between mesh and SFU (mode.go).
	Policy Policy
	// MaxRooms caps the live rooms (-max-rooms); 0 is no cap.
	MaxRooms int
	// JoinWindow is how long an SFU room gathers joins to announce them
	// together (joins.go); 0 is DefaultJoinWindow.
	JoinWindow time.Duration
	// Recordings is where rooms record (recording.go); without a Dir
	// they do not.
	Recordings Recordings
}

// Room is the in-memory state of a room that has participants now: who is
// connected, in which order, and the media topology. What must survive a
// restart is in the store; this is rebuilt from joins.
type Room struct {
	id  string
	cfg *Config
	// hub is the registry the room lives in: a settings change goes
	// through it, as the room may retire and be replaced meanwhile.
	hub *Hub

	// writes orders the room's stored changes (settings, stage, owner):
	// each is decided under mu, written to the store holding only writes,
	// and applied under mu again, so the live copy follows the store in
	// the store's order while joins, media and chat never wait on SQLite.
	// Lock order: writes before mu.
	writes sync.Mutex

	mu           sync.Mutex
	participants []*Participant // join order
	mode         string
	epoch        uint64
	ended        bool
	retired      bool        // emptied and forgotten by the hub: joins go to its successor
	backToMesh   *time.Timer // running while an SFU room is small enough for mesh
	sfuCleanup   *time.Timer // closes SFU connections clients forgot to close
	state        roomState   // owner, settings, stage and raised hands (state.go)
	joins        joinBatch   // joins held back for one announcement (joins.go)
	lobby        []waiter    // joiners waiting for the owner, in arrival order (lobby.go)
	// admitted are the identities that have been in the room since it
	// went live: they come back (a reload, a second tab) past the lobby
	// and the lock.
	admitted map[string]bool
	// recording is the room's recording while it records (recording.go).
	recording recordingState
}

func newRoom(id string, h *Hub) *Room {
	return &Room{id: id, cfg: &h.cfg, hub: h, mode: protocol.ModeMesh, epoch: 1, admitted: map[string]bool{}}
}

// ID is the room's id, as stored.
func (r *Room) ID() string { return r.id }

// encode marshals a server message. Every message type is a plain struct of
// strings, numbers, slices and maps, so an error here is a programming bug.
func encode(msg any) []byte {
	data, err := json.Marshal(msg)
	if err != nil {
		panic("room: encode message: " + err.Error())
	}
	return data
}

// Join adds p and tells everyone, or, in a room with a lobby, puts p in
// the lobby to wait for the owner (JoinOrWait, without a call on
// admission).
func (r *Room) Join(p *Participant, stored *store.Room, limit int) error {
	_, err := r.JoinOrWait(p, stored, limit, nil)
	return err
}

// JoinOrWait adds p and tells everyone, under the room's lock so that
// every participant sees joins and leaves in one order. Sends only queue
// (they never block), and SFU peers negotiate from their own goroutines,
// so holding the lock across them is cheap. stored is the room as read
// for this join, which p's welcome describes. It refuses with ErrRoomFull
// when the room has limit participants (0: no limit), ErrRoomEnded when
// the room has ended, ErrRoomLocked when it is locked to newcomers,
// ErrBanned when a host banned the identity, and errRetired when it
// emptied and the hub forgot it. In a room with a lobby, or with host
// start and no host in it, a newcomer waits instead (waiting is true):
// admitted runs, outside the room's lock, once a host has let it in and
// its welcome is sent. A host's join lets in whoever waited for one.
func (r *Room) JoinOrWait(p *Participant, stored *store.Room, limit int, admitted func(*Room)) (waiting bool, err error) {
	r.mu.Lock()
	waiting, started, err := r.joinOrWaitLocked(p, waiter{p: p, stored: stored, limit: limit, admitted: admitted})
	r.mu.Unlock()
	runAdmitted(r, started)
	return waiting, err
}

// joinOrWaitLocked is JoinOrWait under the room's lock; started are the
// joiners a host's arrival let in, for runAdmitted.
func (r *Room) joinOrWaitLocked(p *Participant, w waiter) (waiting bool, started []waiter, err error) {
	switch {
	case r.ended:
		return false, nil, ErrRoomEnded
	case r.retired:
		return false, nil, errRetired
	case w.limit > 0 && len(r.participants) >= w.limit:
		return false, nil, ErrRoomFull
	}
	if granted := GrantedStanding(r.state.standing[p.userID], p.standing); granted != r.state.standing[p.userID] {
		r.setStandingLocked(p.userID, granted) // stored by the caller already
	}
	if r.state.standing[p.userID] == store.StandingBanned {
		return false, nil, ErrBanned
	}
	// The live owner decides the role: the stored room read before the
	// join may predate a hand-over.
	p.role = r.roleLocked(p)
	if !isHost(p.role) && !r.admitted[p.userID] {
		switch {
		case r.state.locked:
			return false, nil, ErrRoomLocked
		case r.state.hostStart && !r.hostHereLocked():
			r.waitForHostLocked(w)
			return true, nil, nil
		case r.state.lobby && !p.skipLobby:
			r.waitLocked(w)
			return true, nil, nil
		}
	}
	r.joinLocked(p, w.stored)
	if isHost(p.role) {
		started = r.startLocked()
	}
	return false, started, nil
}

// joinLocked adds p, whom the room lets in, and tells everyone.
func (r *Room) joinLocked(p *Participant, stored *store.Room) {
	p.role = r.roleLocked(p)
	r.admitted[p.userID] = true
	others := make([]protocol.Participant, 0, len(r.participants))
	for _, o := range r.participants {
		others = append(others, o.view())
	}
	r.participants = append(r.participants, p)
	// The joiner that tips the room over learns the new mode from its
	// welcome; the others from a mode message just before it joins.
	if r.mode == protocol.ModeMesh && r.needsSFULocked() {
		r.switchToSFULocked(p)
		// SFU connections left over from the last SFU period may be
		// closed on the client's side already (its sfu-close can be on
		// the way); the switch starts everyone afresh.
		for _, q := range r.participants {
			r.disconnectSFULocked(q)
		}
	}
	p.Send(r.welcomeLocked(p, others, stored))
	if isHost(p.role) && len(r.queuedLocked()) > 0 {
		p.Send(r.lobbyMessageLocked())
	}
	r.announceJoinLocked(p)
	if r.mode == protocol.ModeSFU {
		// Everyone without SFU connections gets them now: all of the
		// room on a switch, only the joiner otherwise.
		for _, q := range r.participants {
			r.connectSFULocked(q)
		}
	}
	r.followStageLocked()
	r.reconsiderModeLocked()
}

// welcomeLocked encodes p's welcome: the room as stored, with the live
// owner, settings, stage and hands, which only the room's lock can read.
func (r *Room) welcomeLocked(p *Participant, others []protocol.Participant, stored *store.Room) []byte {
	view := View(stored, len(others)+1, r.mode)
	r.state.applyTo(&view)
	view.Recording = r.recording.rec != nil
	return encode(protocol.Welcome{
		Type: protocol.TypeWelcome, Self: p.view(), Room: view, Participants: others,
		Mode: r.mode, Epoch: r.epoch, ICEServers: p.iceServers(), Hands: r.handsLocked(),
	})
}

// leave removes p and tells the others. It reports whether p was present
// and whether the room, now empty, retired: the caller (the hub) forgets a
// retired room, and a join that still holds it goes elsewhere.
func (r *Room) leave(p *Participant, reason string) (present, retired bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	present = r.leaveLocked(p, reason)
	return present, r.retireIfEmptyLocked()
}

// retireIfEmpty retires the room if nobody is in it.
func (r *Room) retireIfEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retireIfEmptyLocked()
}

func (r *Room) retireIfEmptyLocked() bool {
	if len(r.participants) > 0 || len(r.lobby) > 0 {
		return false
	}
	r.retired = true
	r.stopTimersLocked()
	r.stopRecordingLocked()
	return true
}

// leaveLocked removes p, tells the others, and lowers p's hand. It reports
// whether p was present.
func (r *Room) leaveLocked(p *Participant, reason string) bool {
	i := r.indexLocked(p.id)
	if i < 0 {
		return false
	}
	// A leaver whose join is still held is announced first: the others
	// hear of its joining, then of its leaving, as they happened.
	r.flushJoinsLocked()
	handUp := r.dropHandLocked(p)
	r.participants = append(r.participants[:i], r.participants[i+1:]...)
	r.broadcastLocked(encode(protocol.ParticipantLeft{Type: protocol.TypeParticipantLeft, ID: p.id, Reason: reason}), nil)
	if handUp {
		r.broadcastLocked(r.stageMessageLocked(), nil)
	}
	r.disconnectSFULocked(p)
	r.followStageLocked()
	r.reconsiderModeLocked()
	return true
}

func (r *Room) indexLocked(id string) int {
	for i, p := range r.participants {
		if p.id == id {
			return i
		}
	}
	return -1
}

// findLocked returns the participant with id, or nil.
func (r *Room) findLocked(id string) *Participant {
	if i := r.indexLocked(id); i >= 0 {
		return r.participants[i]
	}
	return nil
}

// broadcastLocked sends msg to every participant but except, after the
// joins held back (joins.go). The caller holds r.mu. The message is encoded
// once by the caller, whatever the size of the room.
func (r *Room) broadcastLocked(msg []byte, except *Participant) {
	r.flushJoinsLocked()
	for _, p := range r.participants {
		if p != except {
			p.Send(msg)
		}
	}
}

// End marks the room ended, sends msg to everyone and closes their sockets
// with code. It returns the participants that were connected.
func (r *Room) End(msg []byte, code int, reason string) []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	gone := r.participants
	r.participants = nil
	for _, p := range gone {
		p.Send(msg)
		p.Close(code, reason)
		r.disconnectSFULocked(p)
	}
	for _, w := range r.lobby {
		w.p.writeBeforeWelcome(msg)
		w.p.Close(code, reason)
	}
	r.lobby = nil
	r.stopTimersLocked()
	r.stopRecordingLocked()
	r.closeViewersLocked()
	return gone
}

// Snapshot returns the participants' public views in join order.
func (r *Room) Snapshot() []protocol.Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]protocol.Participant, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p.view())
	}
	return out
}

// HasUser reports whether a participant of the identity userID is in the
// room.
func (r *Room) HasUser(userID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		if p.userID == userID {
			return true
		}
	}
	return false
}

// Counts returns the number online and the mode, for the room list.
func (r *Room) Counts() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants), r.mode
}

// Peer implements mesh.Room: only participants of this room can be reached.
func (r *Room) Peer(id string) (mesh.Peer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.indexLocked(id); i >= 0 {
		return r.participants[i], true
	}
	return nil, false
}

// RoleOf reads p's role, which a hand-over of ownership changes under the
// room's lock.
func (r *Room) RoleOf(p *Participant) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.role
}

// NameOf reads p's display name, which a rename changes under the room's
// lock.
func (r *Room) NameOf(p *Participant) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.name
}
