package protocol

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// Speaking levels of a mesh room (issue 16). In SFU mode the server reads
// every microphone's level from its audio packets and names the dominant
// speaker itself (active-speaker); in mesh mode the media never reaches the
// server, so each page measures its own microphone and shares the level,
// and every page picks the dominant speaker from the levels it hears of.

// TypeAudioLevel travels both ways: a client sends its own microphone's
// level; in a mesh room the server relays it to everyone else with id set
// to the sender. Ignored in SFU mode.
const TypeAudioLevel = "audio-level"

// Pacing of audio levels. A page sends at most AudioLevelsPerSecond a
// second, and only when the level changed; the server lets each
// participant a burst of AudioLevelBurst, then AudioLevelsPerSecond a
// second, and drops the rest.
const (
	AudioLevelsPerSecond = 5
	AudioLevelBurst      = 8
)

// AudioLevel is one microphone's level, from 0 (silence) to 1 (full
// scale), with two decimals. ID is set by the server to the sender's
// participant id; whatever a client puts there is ignored.
type AudioLevel struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Level Level  `json:"level"`
}

// Level is an audio level as the wire carries it: a JSON number from 0 to
// 1, rounded to two decimals. Anything else a client sends (a string,
// null, no level at all) is kept as not valid, for validate to refuse with
// invalid_message rather than the decoder with invalid_json.
type Level struct {
	Value float64
	Valid bool
}

// NewLevel is v rounded to two decimals, within 0..1.
func NewLevel(v float64) Level {
	return Level{Value: math.Round(min(1, max(0, v))*100) / 100, Valid: true}
}

// UnmarshalJSON reads a number; anything else leaves the level not valid.
func (l *Level) UnmarshalJSON(data []byte) error {
	*l = Level{}
	var v float64
	if bytes.Equal(data, []byte("null")) || json.Unmarshal(data, &v) != nil {
		return nil
	}
	l.Value, l.Valid = v, true
	return nil
}

// MarshalJSON writes the level with at most two decimals.
func (l Level) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, NewLevel(l.Value).Value, 'f', -1, 64), nil
}

func (m *AudioLevel) validate() error {
	if !m.Level.Valid || math.IsNaN(m.Level.Value) || m.Level.Value < 0 || m.Level.Value > 1 {
		return invalid(`%s needs a "level", a number from 0 to 1.`, TypeAudioLevel)
	}
	m.Level = NewLevel(m.Level.Value)
	return nil
}
