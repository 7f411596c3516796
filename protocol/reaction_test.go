package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeReaction(t *testing.T) {
	for _, emoji := range Reactions {
		frame, _ := json.Marshal(Reaction{Type: TypeReaction, Emoji: emoji})
		msg, err := Decode(frame)
		if err != nil {
			t.Fatalf("%s refused: %v", emoji, err)
		}
		if m, ok := msg.(*Reaction); !ok || m.Emoji != emoji {
			t.Fatalf("%s decoded as %+v", emoji, msg)
		}
	}
	// A client's from is decoded (and overwritten by the server later).
	if msg, err := Decode([]byte(`{"type":"reaction","emoji":"👍","from":"p_evil"}`)); err != nil || msg.(*Reaction).Emoji != "👍" {
		t.Fatalf("reaction with from: %v %v", msg, err)
	}
	for _, tt := range []struct {
		name, in, code string
	}{
		{"no emoji", `{"type":"reaction"}`, CodeInvalidMessage},
		{"empty emoji", `{"type":"reaction","emoji":""}`, CodeInvalidMessage},
		{"not in the set", `{"type":"reaction","emoji":"💩"}`, CodeInvalidMessage},
		{"two of them", `{"type":"reaction","emoji":"👍👍"}`, CodeInvalidMessage},
		{"heart without variation selector", `{"type":"reaction","emoji":"\u2764"}`, CodeInvalidMessage},
		{"text", `{"type":"reaction","emoji":"thumbs up"}`, CodeInvalidMessage},
		{"long", `{"type":"reaction","emoji":"` + strings.Repeat("👍", 500) + `"}`, CodeInvalidMessage},
		{"number", `{"type":"reaction","emoji":1}`, CodeInvalidJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			var de *DecodeError
			if !errors.As(err, &de) || de.Code != tt.code || de.Ref != TypeReaction {
				t.Fatalf("err = %v (%+v), want %s with ref reaction", err, de, tt.code)
			}
			if de.Message == "" || !utf8.ValidString(de.Message) || len(de.Message) > 200 {
				t.Fatalf("message = %q", de.Message)
			}
		})
	}
}
