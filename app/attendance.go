package app

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"meet/store"
)

// attendanceEntry is one connection of one participant to a room, as the
// owner's attendance report shows it.
type attendanceEntry struct {
	ParticipantID string `json:"participantId"`
	UserID        string `json:"userId"`
	Name          string `json:"name"`
	Role          string `json:"role"`
	JoinedAt      string `json:"joinedAt"`
	// LeftAt is null while the participant is still in the room; its
	// duration then runs to now.
	LeftAt          *string `json:"leftAt"`
	DurationSeconds int64   `json:"durationSeconds"`
}

func attendanceEntries(rows []store.Attendance, now time.Time) []attendanceEntry {
	out := make([]attendanceEntry, 0, len(rows))
	for _, r := range rows {
		e := attendanceEntry{
			ParticipantID: r.ParticipantID,
			UserID:        r.UserID,
			Name:          r.Name,
			Role:          r.Role,
			JoinedAt:      r.JoinedAt.UTC().Format(time.RFC3339),
		}
		end := now
		if r.LeftAt != nil {
			left := r.LeftAt.UTC().Format(time.RFC3339)
			e.LeftAt, end = &left, *r.LeftAt
		}
		e.DurationSeconds = max(0, int64(end.Sub(r.JoinedAt)/time.Second))
		out = append(out, e)
	}
	return out
}

// getAttendance answers GET /api/rooms/:id/attendance, the owner's: who
// joined and when, as JSON, or as CSV for a spreadsheet when the request
// accepts text/csv (or asks ?format=csv, for a plain download link).
func (s *Server) getAttendance(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	rows, err := s.store.AttendanceOf(stored.ID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	entries := attendanceEntries(rows, time.Now())
	if c.Query("format") == "csv" || strings.Contains(c.GetHeader("Accept"), "text/csv") {
		writeAttendanceCSV(c, stored.ID, entries)
		return
	}
	c.JSON(http.StatusOK, gin.H{"room": stored.ID, "attendance": entries})
}

var attendanceHeader = []string{"participant_id", "user_id", "name", "role", "joined_at", "left_at", "duration_seconds"}

func writeAttendanceCSV(c *gin.Context, roomID string, entries []attendanceEntry) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	// The room id has only letters and digits (store.ValidRoomID): safe
	// in the header as it is.
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="attendance-%s.csv"`, roomID))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(attendanceHeader)
	for _, e := range entries {
		left := ""
		if e.LeftAt != nil {
			left = *e.LeftAt
		}
		_ = w.Write([]string{e.ParticipantID, e.UserID, spreadsheetSafe(e.Name), e.Role, e.JoinedAt, left,
			strconv.FormatInt(e.DurationSeconds, 10)})
	}
	// A failed write is the client gone mid-answer: nothing to tell it.
	w.Flush()
}

// spreadsheetSafe keeps a display name from being read as a formula by a
// spreadsheet that opens the file ("=HYPERLINK(...)"): such a name gets a
// leading apostrophe, which spreadsheets show as text.
func spreadsheetSafe(name string) string {
	if name != "" && strings.ContainsRune("=+-@\t\r", rune(name[0])) {
		return "'" + name
	}
	return name
}
