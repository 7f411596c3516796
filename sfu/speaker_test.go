package sfu

import (
	"encoding/binary"
	"testing"
)

// TestSpeakerPickerHysteresis: the loudest microphone becomes the speaker
// after two looks; a slightly louder one does not take over, a much louder
// one does, after two looks; silence keeps the last speaker; a blip of one
// look changes nothing.
func TestSpeakerPickerHysteresis(t *testing.T) {
	var s speakerPicker
	step := func(levels map[string]float64, want string, changed bool) {
		t.Helper()
		got, ch := s.next(levels)
		if got != want || ch != changed {
			t.Fatalf("next(%v) = %q, %v; want %q, %v", levels, got, ch, want, changed)
		}
	}
	step(map[string]float64{"a": 0, "b": 0}, "", false)
	step(map[string]float64{"a": 0.4, "b": 0.01}, "a", true) // the first speaker needs no streak
	step(map[string]float64{"a": 0.4, "b": 0.5}, "a", false) // not 1.5 times louder
	step(map[string]float64{"a": 0.2, "b": 0.5}, "a", false) // louder enough, one look
	step(map[string]float64{"a": 0.2, "b": 0.5}, "b", true)  // two looks: b
	step(map[string]float64{"a": 0.9, "b": 0.1}, "b", false) // a blip of a
	step(map[string]float64{"a": 0.1, "b": 0.1}, "b", false) // the blip is over
	step(map[string]float64{"a": 0, "b": 0}, "b", false)     // silence keeps b
	step(map[string]float64{"b": 0}, "b", false)
	step(map[string]float64{"c": 0.3}, "b", false) // b left: c needs its streak
	step(map[string]float64{"c": 0.3}, "c", true)
}

// TestLoudnessFollowsLevels: speech raises a microphone's loudness within
// half a second of packets; silence brings it down.
func TestLoudnessFollowsLevels(t *testing.T) {
	var l loudness
	for range 25 { // half a second at 50 packets a second
		l.add(20)
	}
	if v := l.value(); v < minSpeech*4 {
		t.Fatalf("loudness after half a second of speech = %f", v)
	}
	for range 100 {
		l.add(127)
	}
	if v := l.value(); v >= minSpeech {
		t.Fatalf("loudness after two seconds of silence = %f", v)
	}
}

// TestParseAudioLevel reads the level from a one-byte header extension
// block among other elements and padding.
func TestParseAudioLevel(t *testing.T) {
	p := getPacket()
	defer func() { p.refs.Store(1); p.release() }()
	b := p.buf[:0]
	b = append(b, 0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9) // X bit set
	b = append(b, 0xbe, 0xde, 0, 2)                        // 2 words of extensions
	b = append(b, 0x10, 0xaa)                              // id 1, 1 byte
	b = append(b, 0x00)                                    // padding
	b = append(b, 0x30, 0x80|42)                           // id 3 (the level), voice bit + 42
	b = append(b, 0x00, 0x00, 0x00)                        // padding to the word
	b = append(b, 0xf8, 0xff, 0xfe)                        // Opus payload
	if !p.parse(len(b), false, 3) || p.audioLevel != 42 || len(p.payload) != 3 {
		t.Fatalf("level %d, payload %x", p.audioLevel, p.payload)
	}
	if !p.parse(len(b), false, 5) || p.audioLevel != -1 {
		t.Fatalf("an absent id gave level %d", p.audioLevel)
	}
	binary.BigEndian.PutUint16(p.buf[12:], 0x1000) // a two-byte profile: not read
	if !p.parse(len(b), false, 3) || p.audioLevel != -1 {
		t.Fatalf("a two-byte block gave level %d", p.audioLevel)
	}
}
