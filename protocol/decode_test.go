package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	bigSDP := strings.Repeat("a", MaxSDPBytes+1)
	tests := []struct {
		name     string
		in       string
		wantType any
		wantCode string
	}{
		{"offer", `{"type":"signal","to":"p_1","kind":"offer","sdp":"v=0"}`, &Signal{}, ""},
		{"answer", `{"type":"signal","to":"p_1","kind":"answer","sdp":"v=0"}`, &Signal{}, ""},
		{"candidate", `{"type":"signal","to":"p_1","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`, &Signal{}, ""},
		{"end of candidates", `{"type":"signal","to":"p_1","kind":"candidate","candidate":null}`, &Signal{}, ""},
		{"forged from is accepted then overwritten", `{"type":"signal","from":"p_evil","to":"p_1","kind":"offer","sdp":"v=0"}`, &Signal{}, ""},
		{"media", `{"type":"media","source":"camera","action":"paused"}`, &Media{}, ""},
		{"rename", `{"type":"rename","name":"Ana"}`, &Rename{}, ""},
		{"leave", `{"type":"leave"}`, &Leave{}, ""},
		{"unknown fields are ignored", `{"type":"leave","extra":[1,2]}`, &Leave{}, ""},
		{"sfu publish offer", `{"type":"sfu","pc":"publish","kind":"offer","sdp":"v=0","tracks":{"0":"camera"}}`, &SFU{}, ""},
		{"sfu subscribe answer", `{"type":"sfu","pc":"subscribe","kind":"answer","sdp":"v=0"}`, &SFU{}, ""},
		{"sfu candidate", `{"type":"sfu","pc":"subscribe","kind":"candidate","candidate":null}`, &SFU{}, ""},
		{"sfu close", `{"type":"sfu-close"}`, &SFUClose{}, ""},
		{"sfu offer on subscribe", `{"type":"sfu","pc":"subscribe","kind":"offer","sdp":"v=0"}`, nil, CodeInvalidMessage},
		{"sfu answer on publish", `{"type":"sfu","pc":"publish","kind":"answer","sdp":"v=0"}`, nil, CodeInvalidMessage},
		{"sfu bad pc", `{"type":"sfu","pc":"both","kind":"candidate"}`, nil, CodeInvalidMessage},
		{"sfu bad track source", `{"type":"sfu","pc":"publish","kind":"offer","sdp":"v","tracks":{"0":"hologram"}}`, nil, CodeInvalidMessage},

		{"not json", `hello`, nil, CodeInvalidJSON},
		{"truncated", `{"type":"signal"`, nil, CodeInvalidJSON},
		{"array", `[1,2]`, nil, CodeInvalidJSON},
		{"null", `null`, nil, CodeInvalidMessage},
		{"empty object", `{}`, nil, CodeInvalidMessage},
		{"type not a string", `{"type":5}`, nil, CodeInvalidJSON},
		{"unknown type", `{"type":"launch-missiles"}`, nil, CodeUnknownType},
		{"to wrong type", `{"type":"signal","to":7,"kind":"offer","sdp":"v=0"}`, nil, CodeInvalidJSON},
		{"sdp wrong type", `{"type":"signal","to":"p","kind":"offer","sdp":{"x":1}}`, nil, CodeInvalidJSON},
		{"no target", `{"type":"signal","kind":"offer","sdp":"v=0"}`, nil, CodeInvalidMessage},
		{"no kind", `{"type":"signal","to":"p"}`, nil, CodeInvalidMessage},
		{"bad kind", `{"type":"signal","to":"p","kind":"pranswer","sdp":"v=0"}`, nil, CodeInvalidMessage},
		{"offer without sdp", `{"type":"signal","to":"p","kind":"offer"}`, nil, CodeInvalidMessage},
		{"offer with candidate", `{"type":"signal","to":"p","kind":"offer","sdp":"v=0","candidate":{"candidate":"x"}}`, nil, CodeInvalidMessage},
		{"candidate with sdp", `{"type":"signal","to":"p","kind":"candidate","sdp":"v=0"}`, nil, CodeInvalidMessage},
		{"huge sdp", `{"type":"signal","to":"p","kind":"offer","sdp":"` + bigSDP + `"}`, nil, CodeInvalidMessage},
		{"huge target", `{"type":"signal","to":"` + strings.Repeat("p", 100) + `","kind":"offer","sdp":"v"}`, nil, CodeInvalidMessage},
		{"bad source", `{"type":"media","source":"hologram","action":"published"}`, nil, CodeInvalidMessage},
		{"bad action", `{"type":"media","source":"camera","action":"exploded"}`, nil, CodeInvalidMessage},
		{"rename wrong type", `{"type":"rename","name":["a"]}`, nil, CodeInvalidJSON},
		{"offer sdp is not an sdp", `{"type":"signal","to":"p","kind":"offer","sdp":"hello"}`, nil, CodeInvalidMessage},
		{"answer sdp is json", `{"type":"signal","to":"p","kind":"answer","sdp":"{\"v\":0}"}`, nil, CodeInvalidMessage},
		{"sfu offer sdp is not an sdp", `{"type":"sfu","pc":"publish","kind":"offer","sdp":" v=0"}`, nil, CodeInvalidMessage},
		{"sfu answer sdp is not an sdp", `{"type":"sfu","pc":"subscribe","kind":"answer","sdp":"\u0000"}`, nil, CodeInvalidMessage},
		{"media stream id wrong type", `{"type":"media","source":"camera","action":"published","streamId":1}`, nil, CodeInvalidJSON},
		{"tracks wrong type", `{"type":"sfu","pc":"publish","kind":"offer","sdp":"v=0","tracks":["camera"]}`, nil, CodeInvalidJSON},
		{"candidate wrong type", `{"type":"signal","to":"p","kind":"candidate","candidate":"c"}`, nil, CodeInvalidJSON},
		{"mline index out of range", `{"type":"signal","to":"p","kind":"candidate","candidate":{"candidate":"c","sdpMLineIndex":70000}}`, nil, CodeInvalidJSON},
		{"lobby-admit", `{"type":"lobby-admit","id":"p_1"}`, &LobbyAdmit{}, ""},
		{"lobby-admit without id", `{"type":"lobby-admit"}`, nil, CodeInvalidMessage},
		{"lobby-deny", `{"type":"lobby-deny","id":"p_1"}`, &LobbyDeny{}, ""},
		{"lobby-admit-all", `{"type":"lobby-admit-all"}`, &LobbyAdmitAll{}, ""},
		{"lock the room", `{"type":"room-settings","locked":true}`, &RoomSettings{}, ""},
		{"huge frame", `{"type":"leave","pad":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, nil, CodeInvalidMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Decode([]byte(tt.in))
			if tt.wantCode != "" {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want DecodeError %s", err, tt.wantCode)
				}
				if de.Code != tt.wantCode {
					t.Fatalf("code = %s (%s), want %s", de.Code, de.Message, tt.wantCode)
				}
				if de.Message == "" {
					t.Fatal("empty error message")
				}
				var env Envelope
				if json.Unmarshal([]byte(tt.in), &env) == nil && tt.wantCode != CodeUnknownType && env.Type != "" && de.Ref != env.Type {
					t.Fatalf("ref = %q, want %q", de.Ref, env.Type)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got, want := typeName(msg), typeName(tt.wantType); got != want {
				t.Fatalf("decoded %s, want %s", got, want)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *Signal:
		return "Signal"
	case *Media:
		return "Media"
	case *Rename:
		return "Rename"
	case *Leave:
		return "Leave"
	case *Passcode:
		return "Passcode"
	case *SFU:
		return "SFU"
	case *SFUClose:
		return "SFUClose"
	case *ChatSend:
		return "ChatSend"
	case *ChatSync:
		return "ChatSync"
	case *StageSet:
		return "StageSet"
	case *RaiseHand:
		return "RaiseHand"
	case *HandAnswer:
		return "HandAnswer"
	case *RoomSettings:
		return "RoomSettings"
	case *Remove:
		return "Remove"
	case *MuteRequest:
		return "MuteRequest"
	case *OwnerSet:
		return "OwnerSet"
	case *EndRoom:
		return "EndRoom"
	case *MuteAll:
		return "MuteAll"
	case *LowerHands:
		return "LowerHands"
	case *RoleSet:
		return "RoleSet"
	case *Unban:
		return "Unban"
	case *View:
		return "View"
	case *AudioLevel:
		return "AudioLevel"
	case *Reaction:
		return "Reaction"
	case *LobbyAdmit:
		return "LobbyAdmit"
	case *LobbyDeny:
		return "LobbyDeny"
	case *LobbyAdmitAll:
		return "LobbyAdmitAll"
	}
	return "?"
}

func TestDecodeOversizeFrame(t *testing.T) {
	_, err := Decode(make([]byte, MaxFrameBytes+1))
	var de *DecodeError
	if !errors.As(err, &de) || de.Code != CodeInvalidMessage {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeKeepsFields(t *testing.T) {
	msg, err := Decode([]byte(`{"type":"signal","to":"p_2","kind":"candidate","candidate":{"candidate":"c","sdpMid":"1","sdpMLineIndex":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := msg.(*Signal)
	if s.To != "p_2" || s.Candidate == nil || s.Candidate.Candidate != "c" || *s.Candidate.SDPMid != "1" || *s.Candidate.SDPMLineIndex != 2 {
		t.Fatalf("got %+v", s)
	}
}

// FuzzDecode checks that no input panics the decoder, that every refusal
// carries a code and a valid UTF-8 message, and that every accepted message
// is one of the known types.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"type":"signal","to":"p_1","kind":"offer","sdp":"v=0"}`,
		`{"type":"signal","to":"p_1","kind":"candidate","candidate":null}`,
		`{"type":"media","source":"screen","action":"published"}`,
		`{"type":"rename","name":"数学"}`,
		`{"type":"leave"}`,
		`{"type":"sfu","pc":"publish","kind":"offer","sdp":"v=0","tracks":{"0":"screen"}}`,
		`{"type":"chat-send","text":"hi","clientId":"c1"}`,
		`{"type":"stage-set","id":"p_1","on":true}`,
		`{"type":"room-settings","classroom":true}`,
		`{"type":"mute-request","id":"p_1","source":"camera"}`,
		`{"type":"mute-all"}`,
		`{"type":"mute-all","source":"camera"}`,
		`{"type":"lower-hands"}`,
		`{"type":"lobby-admit","id":"p_1"}`,
		`{"type":"lobby-admit"}`,
		`{"type":"lobby-deny","id":"p_1"}`,
		`{"type":"lobby-admit-all"}`,
		`{"type":"room-settings","lobby":true,"locked":false}`,
		`{"type":"reaction","emoji":"👍"}`,
		`{"type":"reaction","emoji":"❤️"}`,
		`{"type":"reaction","emoji":"\u2764"}`,
		`{"type":"passcode","passcode":"tulip-42"}`,
		`{"type":"role-set","id":"p_1","role":"moderator"}`,
		`{"type":"role-set","id":"p_1","role":"owner"}`,
		`{"type":"role-set","role":"presenter"}`,
		`{"type":"unban","userId":"u_abc"}`,
		`{"type":"unban","userId":""}`,
		`{"type":"remove","id":"p_1","ban":true}`,
		`{"type":"room-settings","hostStart":true}`,
		`{"type":"view","views":[{"id":"p_1","source":"camera","width":320,"height":180}]}`,
		`{"type":"view","views":[{"id":"p_1","source":"screen","width":0,"height":0}]}`,
		`{"type":"view","views":[]}`,
		`{"type":"view","views":[{"id":"p_1","source":"microphone","width":1,"height":1}]}`,
		`{"type":"view","views":[{"id":"p_1","source":"camera","width":-1,"height":99999}]}`,
		`{"type":"passcode","passcode":null}`,
		`{"type":"audio-level","level":0.42}`,
		`{"type":"audio-level","level":"loud"}`,
		`{"type":"audio-level","level":1e400}`,
		`{"type":"\xff\xfe"}`,
		`{"type":"signal","to":{"a":1}}`,
		`[]`, `""`, `nul`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			if de.Code == "" || de.Message == "" || !utf8.ValidString(de.Message) {
				t.Fatalf("bad DecodeError %+v", de)
			}
			return
		}
		if typeName(msg) == "?" {
			t.Fatalf("decoded unknown type %T", msg)
		}
	})
}
