package sfu

import "sync/atomic"

// Tap receives a copy of every packet of one published track, as a
// recorder does. WriteRTP is called by the track's reader, on the
// forwarding path: it must not block, and must not keep payload. Close is
// called once, when the track ends or the room stops tapping.
type Tap interface {
	WriteRTP(seq uint16, timestamp uint32, marker bool, payload []byte)
	Close()
}

// TapInfo describes a track to the maker of its tap.
type TapInfo struct {
	Publisher string // the publisher's peer id
	Source    string
	Video     bool
	MimeType  string
	ClockRate uint32
	// RequestKeyframe asks the publisher for a keyframe of the tapped
	// layer (limited like every keyframe request).
	RequestKeyframe func()
}

// TapMaker makes the tap of a track, or returns nil to leave it untapped.
// It is called outside the SFU's locks and must not block for long.
type TapMaker func(TapInfo) Tap

// trackTap is a track's tap and the simulcast layer it receives: the best
// one the track has when the tap starts, moved up while no packet has
// gone to the tap yet (the layers of a source arrive a few milliseconds
// apart, lowest first).
type trackTap struct {
	tap     Tap
	layer   atomic.Int32
	started atomic.Bool
}

// Tap has every track of room id, now and to come, tapped by make; a nil
// make stops tapping the room and closes its taps. It holds for the room's
// id: an empty room the registry forgets and makes again keeps it.
func (s *SFU) Tap(id string, make TapMaker) {
	s.mu.Lock()
	if make == nil {
		delete(s.taps, id)
	} else {
		s.taps[id] = make
	}
	r := s.rooms[id]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	r.tapMaker = make
	tracks := append([]*upTrack(nil), r.tracks...)
	r.mu.Unlock()
	for _, up := range tracks {
		up.setTap(make)
	}
}

// setTap gives the track a tap from make, or closes its tap (nil).
func (u *upTrack) setTap(make TapMaker) {
	if make == nil {
		if old := u.tap.Swap(nil); old != nil {
			old.tap.Close()
		}
		return
	}
	if u.tap.Load() != nil {
		return
	}
	tt := &trackTap{}
	tt.layer.Store(int32(u.topLayer()))
	tt.tap = make(TapInfo{
		Publisher: u.publisher.id,
		Source:    u.source,
		Video:     u.video,
		MimeType:  u.codec.MimeType,
		ClockRate: u.codec.ClockRate,
		RequestKeyframe: func() {
			if l := u.layer(int(tt.layer.Load())); l != nil {
				l.requestKeyframe()
			}
		},
	})
	if tt.tap == nil {
		return
	}
	if !u.tap.CompareAndSwap(nil, tt) {
		tt.tap.Close() // tapped meanwhile
	}
}

// topLayer is the best layer the track has now.
func (u *upTrack) topLayer() int {
	for i := maxLayers - 1; i > 0; i-- {
		if u.layer(i) != nil {
			return i
		}
	}
	return 0
}

// tapLayerAdded moves a tap that has not started up to a better layer
// that just arrived.
func (u *upTrack) tapLayerAdded(index int) {
	tt := u.tap.Load()
	if tt == nil || tt.started.Load() {
		return
	}
	for {
		cur := tt.layer.Load()
		if int32(index) <= cur || tt.layer.CompareAndSwap(cur, int32(index)) {
			return
		}
	}
}

// toTap hands a packet of layer l to the track's tap, if it has one and
// it receives that layer.
func (l *layer) toTap(p *packet) {
	tt := l.up.tap.Load()
	if tt == nil || tt.layer.Load() != int32(l.index) {
		return
	}
	if !tt.started.Load() {
		tt.started.Store(true)
	}
	tt.tap.WriteRTP(p.seq, p.timestamp, p.marker, p.payload)
}
