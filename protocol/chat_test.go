package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decodeChat parses data the way Decode does once it knows the chat types:
// unmarshal into the type, then validate.
func decodeChat(t *testing.T, data string) error {
	t.Helper()
	var env Envelope
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		t.Fatalf("bad test input %s: %v", data, err)
	}
	var msg interface{ validate() error }
	switch env.Type {
	case TypeChatSend:
		msg = &ChatSend{}
	case TypeChatSync:
		msg = &ChatSync{}
	default:
		t.Fatalf("not a chat type: %s", env.Type)
	}
	if err := json.Unmarshal([]byte(data), msg); err != nil {
		return jsonError(err)
	}
	return msg.validate()
}

func TestChatValidate(t *testing.T) {
	long := strings.Repeat("é", MaxChatChars)
	for _, tt := range []struct {
		name, data, code string
	}{
		{"plain", `{"type":"chat-send","text":"hello"}`, ""},
		{"with client id", `{"type":"chat-send","text":"hi","clientId":"3f2b9c1e-8a7d-4e7f-9d7e-1c2b3a4d5e6f"}`, ""},
		{"markup is just text", `{"type":"chat-send","text":"<img src=x onerror=alert(1)>"}`, ""},
		{"emoji and newlines", `{"type":"chat-send","text":"👩‍👩‍👧 olá\n数学\ttab"}`, ""},
		{"exactly the limit in runes", `{"type":"chat-send","text":"` + long + `"}`, ""},
		{"limit plus padding", `{"type":"chat-send","text":"  ` + long + `\n "}`, ""},
		{"forged from is ignored here", `{"type":"chat-send","text":"x","from":"p_other","seq":99}`, ""},
		{"empty", `{"type":"chat-send","text":""}`, CodeChatEmpty},
		{"missing text", `{"type":"chat-send"}`, CodeChatEmpty},
		{"only spaces", `{"type":"chat-send","text":" \n\t\u3000 "}`, CodeChatEmpty},
		{"one over", `{"type":"chat-send","text":"` + long + `x"}`, CodeChatTooLong},
		{"text of wrong type", `{"type":"chat-send","text":5}`, CodeInvalidJSON},
		{"control character", `{"type":"chat-send","text":"a\u0000b"}`, CodeInvalidMessage},
		{"escape sequence", `{"type":"chat-send","text":"a\u001b[2Jb"}`, CodeInvalidMessage},
		{"client id too long", `{"type":"chat-send","text":"x","clientId":"` + strings.Repeat("c", 65) + `"}`, CodeInvalidMessage},
		{"client id with space", `{"type":"chat-send","text":"x","clientId":"a b"}`, CodeInvalidMessage},
		{"sync from start", `{"type":"chat-sync","after":0}`, ""},
		{"sync without after", `{"type":"chat-sync"}`, ""},
		{"sync after", `{"type":"chat-sync","after":41}`, ""},
		{"sync negative", `{"type":"chat-sync","after":-1}`, CodeInvalidMessage},
		{"sync after of wrong type", `{"type":"chat-sync","after":"7"}`, CodeInvalidJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeChat(t, tt.data)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Code != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
			if de.Message == "" {
				t.Fatal("error without a readable message")
			}
		})
	}
}

func TestChatTooLongSaysHowLong(t *testing.T) {
	err := (&ChatSend{Text: strings.Repeat("数", 2500)}).validate()
	if err == nil || !strings.Contains(err.Error(), "2500") || !strings.Contains(err.Error(), "2000") {
		t.Fatalf("err = %v, want the length and the limit", err)
	}
}

func TestChatMessageWireNames(t *testing.T) {
	data, _ := json.Marshal(ChatHistory{Type: TypeChatHistory, Messages: []ChatMessage{{
		Type: TypeChatMessage, Seq: 7, From: "p_1", FromName: "Ana", UserID: "u_1", Text: "hi",
		Time: "2026-01-02T03:04:05.678Z", ClientID: "c1",
	}}})
	want := `{"type":"chat-history","messages":[{"type":"chat-message","seq":7,"from":"p_1","fromName":"Ana","userId":"u_1","text":"hi","time":"2026-01-02T03:04:05.678Z","clientId":"c1"}],"hasMore":false}`
	if string(data) != want {
		t.Fatalf("wire form\n got %s\nwant %s", data, want)
	}
}
