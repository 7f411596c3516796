package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Active speaker (issue 16): browsers put the level of each audio packet
// in a header extension (RFC 6464); the reader of each microphone keeps a
// moving average of it, and each room, a few times a second, names the
// dominant speaker: the loudest over the last moments, with hysteresis, so
// that a cough or a word does not take the floor from someone talking.

// loudness is a microphone's recent loudness: an exponential moving
// average of its packets' levels, from 0 (silence) to 1 (0 dBov), in
// millionths. Written by the track's reader, read by the room's detector.
type loudness struct{ avg atomic.Int64 }

// levelWeight is each packet's weight in the average: at 50 packets a
// second, the average forgets in about half a second.
const levelWeight = 0.04

// silenceLevel is the level (-dBov) at or above which a packet counts as
// silence: background noise stays there, speech goes well under.
const silenceLevel = 70

func (l *loudness) add(level int8) {
	v := 0.0
	if level < silenceLevel {
		v = float64(silenceLevel-int(level)) / silenceLevel
	}
	old := float64(l.avg.Load()) / 1e6
	l.avg.Store(int64((old + levelWeight*(v-old)) * 1e6))
}

func (l *loudness) value() float64 { return float64(l.avg.Load()) / 1e6 }

// Dominant speaker selection.
const (
	// speakerTick is how often a room looks at its microphones.
	speakerTick = 150 * time.Millisecond
	// minSpeech is the least loudness that counts as speaking at all.
	minSpeech = 0.05
	// takeover: a new speaker must be this much louder than the current
	// one, for speakerTicks looks in a row.
	takeover     = 1.5
	speakerTicks = 2
)

// speakerPicker is one room's choice of dominant speaker.
type speakerPicker struct {
	current   string
	candidate string
	streak    int
}

// next takes the loudness of each publisher's microphone now and returns
// the dominant speaker, and whether it changed. Silence keeps the last
// speaker. Pure.
func (s *speakerPicker) next(levels map[string]float64) (string, bool) {
	loudest, top := "", minSpeech
	for id, v := range levels {
		if v >= top && (v > top || id < loudest) {
			loudest, top = id, v
		}
	}
	if loudest == "" || loudest == s.current {
		s.candidate, s.streak = "", 0
		return s.current, false
	}
	if levels[s.current]*takeover > top {
		s.candidate, s.streak = "", 0
		return s.current, false
	}
	if loudest != s.candidate {
		s.candidate, s.streak = loudest, 0
	}
	s.streak++
	if s.streak < speakerTicks && s.current != "" {
		return s.current, false
	}
	s.current, s.candidate, s.streak = loudest, "", 0
	return s.current, true
}

// detectSpeakers names the room's dominant speaker to onSpeaker whenever
// it changes, until the room is forgotten or closed.
func (r *Room) detectSpeakers(onSpeaker func(room, peer string)) {
	ticker := time.NewTicker(speakerTick)
	defer ticker.Stop()
	var picker speakerPicker
	for range ticker.C {
		r.mu.Lock()
		if r.closed || r.forgotten {
			r.mu.Unlock()
			return
		}
		levels := make(map[string]float64, len(r.tracks))
		for _, up := range r.tracks {
			if up.levelID != 0 && !up.paused.Load() {
				levels[up.publisher.id] = up.loudness.value()
			}
		}
		r.mu.Unlock()
		if speaker, changed := picker.next(levels); changed {
			r.spoke(speaker)
			if onSpeaker != nil {
				onSpeaker(r.id, speaker)
			}
		}
	}
}

// audioLevelID finds the audio level extension's id among what a
// receiver negotiated; 0 if it was not.
func audioLevelID(receiver *webrtc.RTPReceiver) uint8 {
	for _, ext := range receiver.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			return uint8(ext.ID)
		}
	}
	return 0
}
