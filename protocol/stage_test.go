package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeStageMessages(t *testing.T) {
	long := strings.Repeat("p", MaxIDBytes+1)
	tests := []struct {
		name     string
		in       string
		wantType any
		wantCode string
	}{
		{"go on stage", `{"type":"stage-set","on":true}`, &StageSet{}, ""},
		{"step down", `{"type":"stage-set","on":false}`, &StageSet{}, ""},
		{"put a participant on stage", `{"type":"stage-set","id":"p_1","on":true}`, &StageSet{}, ""},
		{"take an identity off stage", `{"type":"stage-set","userId":"u_1","on":false}`, &StageSet{}, ""},
		{"stage-set id and userId", `{"type":"stage-set","id":"p_1","userId":"u_1","on":false}`, nil, CodeInvalidMessage},
		{"stage-set userId on", `{"type":"stage-set","userId":"u_1","on":true}`, nil, CodeInvalidMessage},
		{"stage-set long id", `{"type":"stage-set","id":"` + long + `","on":true}`, nil, CodeInvalidMessage},
		{"stage-set on not bool", `{"type":"stage-set","on":"yes"}`, nil, CodeInvalidJSON},

		{"raise hand", `{"type":"hand","raised":true}`, &RaiseHand{}, ""},
		{"lower hand", `{"type":"hand","raised":false}`, &RaiseHand{}, ""},
		{"hand raised not bool", `{"type":"hand","raised":1}`, nil, CodeInvalidJSON},

		{"accept hand", `{"type":"hand-answer","id":"p_1","accept":true}`, &HandAnswer{}, ""},
		{"decline hand", `{"type":"hand-answer","id":"p_1","accept":false}`, &HandAnswer{}, ""},
		{"hand-answer without id", `{"type":"hand-answer","accept":true}`, nil, CodeInvalidMessage},

		{"classroom on", `{"type":"room-settings","classroom":true}`, &RoomSettings{}, ""},
		{"allow stage off", `{"type":"room-settings","allowStage":false}`, &RoomSettings{}, ""},
		{"settings empty", `{"type":"room-settings"}`, nil, CodeInvalidMessage},
		{"settings wrong type", `{"type":"room-settings","classroom":"yes"}`, nil, CodeInvalidJSON},

		{"remove", `{"type":"remove","id":"p_1"}`, &Remove{}, ""},
		{"remove without id", `{"type":"remove"}`, nil, CodeInvalidMessage},
		{"remove long id", `{"type":"remove","id":"` + long + `"}`, nil, CodeInvalidMessage},

		{"mute request", `{"type":"mute-request","id":"p_1"}`, &MuteRequest{}, ""},
		{"mute request camera", `{"type":"mute-request","id":"p_1","source":"camera"}`, &MuteRequest{}, ""},
		{"mute request screen", `{"type":"mute-request","id":"p_1","source":"screen"}`, nil, CodeInvalidMessage},
		{"mute request without id", `{"type":"mute-request","source":"microphone"}`, nil, CodeInvalidMessage},

		{"owner-set", `{"type":"owner-set","id":"p_1"}`, &OwnerSet{}, ""},
		{"owner-set without id", `{"type":"owner-set"}`, nil, CodeInvalidMessage},

		{"end room", `{"type":"end-room"}`, &EndRoom{}, ""},

		{"mute all", `{"type":"mute-all"}`, &MuteAll{}, ""},
		{"mute all microphones", `{"type":"mute-all","source":"microphone"}`, &MuteAll{}, ""},
		{"mute all cameras", `{"type":"mute-all","source":"camera"}`, &MuteAll{}, ""},
		{"mute all screens", `{"type":"mute-all","source":"screen"}`, nil, CodeInvalidMessage},
		{"mute all source not a string", `{"type":"mute-all","source":1}`, nil, CodeInvalidJSON},

		{"lower all hands", `{"type":"lower-hands"}`, &LowerHands{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Decode([]byte(tt.in))
			if tt.wantCode != "" {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want DecodeError %s", err, tt.wantCode)
				}
				if de.Code != tt.wantCode || de.Message == "" {
					t.Fatalf("got %s %q, want %s", de.Code, de.Message, tt.wantCode)
				}
				if !strings.HasPrefix(tt.in, `{"type":"`+de.Ref+`"`) {
					t.Fatalf("ref = %q does not name the refused message %s", de.Ref, tt.in)
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

func TestDecodeStageKeepsFields(t *testing.T) {
	msg, err := Decode([]byte(`{"type":"room-settings","allowStage":true}`))
	if err != nil {
		t.Fatal(err)
	}
	rs := msg.(*RoomSettings)
	if rs.Classroom != nil || rs.AllowStage == nil || !*rs.AllowStage {
		t.Fatalf("got %+v", rs)
	}
	msg, err = Decode([]byte(`{"type":"stage-set","id":"p_9","on":true,"from":"p_evil"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ss := msg.(*StageSet); ss.ID != "p_9" || !ss.On {
		t.Fatalf("got %+v", ss)
	}
}
