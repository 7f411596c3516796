package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/olahol/melody"
	"golang.org/x/crypto/bcrypt"

	"meet/protocol"
	"meet/store"
)

// A room's passcode: set by its owner, stored only as a bcrypt hash, and
// asked of everyone else who joins. The page sends it in the socket's first
// frame (a `passcode` message), never in the URL, which proxies log.

const (
	minPasscodeRunes = 4
	// passcodeFailuresPerMinute bounds the wrong guesses one address may
	// make at one room; bcrypt's cost alone would let a botnet through.
	passcodeFailuresPerMinute = 5
	// defaultPasscodeWait is how long a socket to a passcode room may take
	// to send its passcode frame; the page sends it as the socket opens.
	defaultPasscodeWait = 10 * time.Second
)

var (
	errPasscodeRequired = newError(http.StatusForbidden, protocol.CodePasscodeRequired,
		"This room has a passcode. Enter it to join.")
	errBadPasscode = newError(http.StatusForbidden, protocol.CodeBadPasscode,
		"That passcode is not right. Check it and try again.")
	errPasscodeShape = newError(http.StatusBadRequest, protocol.CodeBadRequest,
		"A passcode has 4 to 64 characters, without control characters.")
)

// cleanPasscode trims what surrounds a passcode (a pasted one often brings
// a space) and checks what is left.
func cleanPasscode(raw string) (string, error) {
	p := strings.TrimSpace(raw)
	if utf8.RuneCountInString(p) < minPasscodeRunes || len(p) > protocol.MaxPasscodeBytes || !utf8.ValidString(p) {
		return "", errPasscodeShape
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return "", errPasscodeShape
	}
	return p, nil
}

// hashPasscode cleans a passcode and returns its bcrypt hash.
func (s *Server) hashPasscode(raw string) (string, error) {
	p, err := cleanPasscode(raw)
	if err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(p), s.passcodeCost)
	if err != nil {
		return "", err
	}
	return string(hash), nil
}

// passcodeChange reads the "passcode" field of a PATCH: absent is no
// change (nil), null or "" removes the passcode, a string sets it.
func (s *Server) passcodeChange(raw json.RawMessage) (*string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var value *string
	if err := json.Unmarshal(raw, &value); err != nil {
		return nil, newError(http.StatusBadRequest, protocol.CodeInvalidJSON, `Field "passcode" must be a string or null.`)
	}
	hash := ""
	if value != nil && *value != "" {
		var err error
		if hash, err = s.hashPasscode(*value); err != nil {
			return nil, err
		}
	}
	return &hash, nil
}

// checkPasscode decides whether userID, at address ip, may join the
// room with passcode. The owner and anyone joining a room without a
// passcode need none. A wrong passcode counts against the address in
// this room; once it has used up its attempts, even the right one waits,
// or the limit would still tell a guesser when it was right.
func (s *Server) checkPasscode(stored *store.Room, userID, ip, passcode string) *Error {
	if stored.PasscodeHash == "" || stored.OwnerID == userID {
		return nil
	}
	key := clientKey(ip) + " " + stored.ID
	if blocked, retry := s.passcodeLimit.exhausted(key); blocked {
		return rateLimited("wrong passcodes", retry)
	}
	passcode = strings.TrimSpace(passcode)
	if passcode == "" {
		return errPasscodeRequired
	}
	// bcrypt compares in constant time.
	if bcrypt.CompareHashAndPassword([]byte(stored.PasscodeHash), []byte(passcode)) != nil {
		s.passcodeLimit.spend(key)
		s.log.Info("wrong room passcode", "room", stored.ID, "remote", ip)
		return errBadPasscode
	}
	return nil
}

// postPasscode answers POST /api/rooms/:id/passcode {"passcode"}: 204 when
// the caller may join with it (or needs none), so the page can ask again
// at once rather than after its pre-join screen. Wrong guesses count
// against the same limit as wrong joins.
func (s *Server) postPasscode(c *gin.Context) {
	stored, err := s.loadRoom(c.Param("id"))
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	var req struct {
		Passcode string `json:"passcode"`
	}
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if len(req.Passcode) > protocol.MaxPasscodeBytes {
		s.abortWithError(c, errBadPasscode)
		return
	}
	if refusal := s.checkPasscode(stored, identityOf(c).ID, c.ClientIP(), req.Passcode); refusal != nil {
		if refusal.Code == protocol.CodeRateLimited {
			c.Header("Retry-After", "60")
		}
		s.abortWithError(c, refusal)
		return
	}
	c.Status(http.StatusNoContent)
}

// mayRead lets the owner and those who have joined read a passcode room's
// participants and chat over REST; others get what a join would get.
func (s *Server) mayRead(stored *store.Room, userID string) error {
	if stored.PasscodeHash == "" || stored.OwnerID == userID {
		return nil
	}
	attended, err := s.store.RoomsAttended(userID, []string{stored.ID})
	if err != nil {
		return err
	}
	if !attended[stored.ID] {
		return errPasscodeRequired
	}
	return nil
}

// pendingPasscode is a socket to a passcode room waiting for its passcode
// frame. The frame, the deadline and the socket's close race for it: the
// first to claim it decides.
type pendingPasscode struct {
	stored  *store.Room
	timer   *time.Timer
	claimed atomic.Bool
}

func (w *pendingPasscode) claim() bool {
	if !w.claimed.CompareAndSwap(false, true) {
		return false
	}
	w.timer.Stop()
	return true
}

const (
	passcodeWaitKey = "meet.passcodeWait"
	passcodeOKKey   = "meet.passcodeOK"
)

// awaitPasscode reports whether the socket must first send the room's
// passcode: if so, the join goes on when the passcode frame comes
// (passcodeFrame), or the socket is refused when it does not in time.
func (s *Server) awaitPasscode(ss *melody.Session, identity Identity, stored *store.Room) bool {
	if stored.PasscodeHash == "" || stored.OwnerID == identity.ID {
		return false
	}
	if ok, _ := ss.Get(passcodeOKKey); ok == true {
		return false
	}
	w := &pendingPasscode{stored: stored}
	w.timer = time.AfterFunc(time.Hour, func() {
		if w.claim() {
			s.refuse(ss, errPasscodeRequired, protocol.CloseRoomGone)
		}
	})
	ss.Set(passcodeWaitKey, w)
	w.timer.Reset(s.passcodeWait)
	return true
}

func pendingOf(ss *melody.Session) *pendingPasscode {
	v, _ := ss.Get(passcodeWaitKey)
	w, _ := v.(*pendingPasscode)
	return w
}

// passcodeFrame takes the first frame of a socket that waits for its
// room's passcode: the right passcode lets the join go on; anything else
// refuses it.
func (s *Server) passcodeFrame(ss *melody.Session, data []byte) {
	w := pendingOf(ss)
	if w == nil || !w.claim() {
		return
	}
	passcode := ""
	if msg, err := protocol.Decode(data); err == nil {
		if m, ok := msg.(*protocol.Passcode); ok {
			passcode = m.Passcode
		}
	}
	identity := ss.Keys["identity"].(Identity)
	ip, _ := ss.Keys["ip"].(string)
	if err := s.checkPasscode(w.stored, identity.ID, ip, passcode); err != nil {
		s.refuse(ss, err, closeCodeFor(err))
		return
	}
	ss.Set(passcodeOKKey, true)
	s.join(ss, socketOf(ss), identity)
}

// dropPendingPasscode forgets the wait of a socket that closed first.
func dropPendingPasscode(ss *melody.Session) {
	if w := pendingOf(ss); w != nil {
		w.claim()
	}
}
