package app

import (
	"fmt"
	"meet/protocol"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name limits, counted in characters (runes) after trimming, so that
// "数学课" counts as three, not nine.
const (
	maxRoomNameChars    = 100
	maxDisplayNameChars = 50
)

// cleanName trims a user-supplied name and checks its length and content.
// what names the field in the error ("Room name", "Display name").
func cleanName(raw, what string, maxChars int) (string, error) {
	if !utf8.ValidString(raw) {
		return "", newError(http.StatusBadRequest, protocol.CodeInvalidName, what+" is not valid UTF-8.")
	}
	name := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return "", newError(http.StatusBadRequest, protocol.CodeInvalidName, what+" must not be empty.")
	}
	if n > maxChars {
		return "", newError(http.StatusBadRequest, protocol.CodeInvalidName,
			fmt.Sprintf("%s must be at most %d characters (it has %d).", what, maxChars, n))
	}
	for _, r := range name {
		// JSON decoding turns invalid UTF-8 into U+FFFD; no real name has it.
		if r == utf8.RuneError {
			return "", newError(http.StatusBadRequest, protocol.CodeInvalidName, what+" is not valid UTF-8 (it has U+FFFD).")
		}
		// Control and format characters (including bidi overrides) let one
		// name disguise itself as another in every participant's list.
		if unicode.IsControl(r) || isBidiControl(r) {
			return "", newError(http.StatusBadRequest, protocol.CodeInvalidName,
				fmt.Sprintf("%s must not contain control characters (found U+%04X).", what, r))
		}
	}
	return name, nil
}

func cleanRoomName(raw string) (string, error) {
	return cleanName(raw, "Room name", maxRoomNameChars)
}

func cleanDisplayName(raw string) (string, error) {
	return cleanName(raw, "Display name", maxDisplayNameChars)
}

// isBidiControl reports the explicit direction marks and overrides. Other
// format characters stay allowed: the zero-width joiner builds emoji.
func isBidiControl(r rune) bool {
	return r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
