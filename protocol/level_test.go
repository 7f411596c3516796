package protocol

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeAudioLevel(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{`{"type":"audio-level","level":0}`, 0},
		{`{"type":"audio-level","level":1}`, 1},
		{`{"type":"audio-level","level":0.42}`, 0.42},
		{`{"type":"audio-level","level":0.123456}`, 0.12},
		{`{"type":"audio-level","level":0.995}`, 1},
		{`{"type":"audio-level","level":5e-1}`, 0.5},
		// A client's id is decoded, and overwritten by the server.
		{`{"type":"audio-level","level":0.3,"id":"p_evil"}`, 0.3},
	} {
		msg, err := Decode([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s refused: %v", tt.in, err)
		}
		m, ok := msg.(*AudioLevel)
		if !ok || !m.Level.Valid || m.Level.Value != tt.want {
			t.Fatalf("%s decoded as %+v, want level %v", tt.in, msg, tt.want)
		}
	}
	for _, in := range []string{
		`{"type":"audio-level"}`,
		`{"type":"audio-level","level":null}`,
		`{"type":"audio-level","level":"0.5"}`,
		`{"type":"audio-level","level":true}`,
		`{"type":"audio-level","level":[0.5]}`,
		`{"type":"audio-level","level":{"v":1}}`,
		`{"type":"audio-level","level":-0.01}`,
		`{"type":"audio-level","level":1.01}`,
		`{"type":"audio-level","level":1e400}`,
	} {
		_, err := Decode([]byte(in))
		var de *DecodeError
		if !errors.As(err, &de) || de.Code != CodeInvalidMessage || de.Ref != TypeAudioLevel || de.Message == "" {
			t.Errorf("%s: err = %v (%+v), want invalid_message with ref audio-level", in, err, de)
		}
	}
}

func TestAudioLevelWire(t *testing.T) {
	for _, tt := range []struct {
		level float64
		want  string
	}{
		{0, `{"type":"audio-level","id":"p_1","level":0}`},
		{1, `{"type":"audio-level","id":"p_1","level":1}`},
		{0.5, `{"type":"audio-level","id":"p_1","level":0.5}`},
		{0.126, `{"type":"audio-level","id":"p_1","level":0.13}`},
		{2, `{"type":"audio-level","id":"p_1","level":1}`},
	} {
		out, err := json.Marshal(AudioLevel{Type: TypeAudioLevel, ID: "p_1", Level: NewLevel(tt.level)})
		if err != nil || string(out) != tt.want {
			t.Errorf("level %v: %s (%v), want %s", tt.level, out, err, tt.want)
		}
	}
}
