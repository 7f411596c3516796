package room

import (
	"time"

	"meet/protocol"
)

// AudioLevel relays p's microphone level at now to everyone else in the
// room, stamped with p's id, in mesh mode only: there each page picks the
// dominant speaker from the levels it hears of, while in SFU mode the SFU
// reads the levels from the audio itself (active-speaker), and a level is
// ignored. A level above 0 of a microphone that is not live is dropped
// (silence is always news), and so is whatever goes beyond p's pace
// (protocol.AudioLevelBurst, then protocol.AudioLevelsPerSecond a second):
// a page sends far fewer, and a flood from a bad client reaches nobody.
// Nothing is answered: a level is news, not a request.
func (r *Room) AudioLevel(p *Participant, level protocol.Level, now time.Time) {
	out := encode(protocol.AudioLevel{Type: protocol.TypeAudioLevel, ID: p.id, Level: level})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.mode != protocol.ModeMesh || r.indexLocked(p.id) < 0 {
		return
	}
	if level.Value > 0 && p.media[protocol.SourceMicrophone] != protocol.TrackLive {
		return
	}
	if !p.levels.take(now, protocol.AudioLevelBurst, protocol.AudioLevelsPerSecond) {
		return
	}
	r.broadcastLocked(out, p)
}
