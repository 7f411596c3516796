package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// This file collects what the pages write to their consoles (calls of the
// console API, uncaught exceptions, browser log entries) and what the server
// logs, and prints it when a test fails, or always with MEET_E2E_VERBOSE=1.

// eventLog is a thread-safe, timestamped log shared by the tabs of a browser.
type eventLog struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newEventLog() *eventLog { return &eventLog{start: time.Now()} }

func (l *eventLog) addf(source, format string, args ...any) {
	line := fmt.Sprintf("%8.3fs [%s] %s", time.Since(l.start).Seconds(), source, fmt.Sprintf(format, args...))
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// follow records the console of the tab of ctx until the tab closes.
func (l *eventLog) follow(ctx context.Context, name string) {
	messages := chromedp.Console(ctx) // subscribes now: nothing is lost
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			where := ""
			if m.URL != "" {
				where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			l.addf(name, "%s%s", m, where)
		}
	}()
}

// dumpLog prints the log when the test failed or MEET_E2E_VERBOSE is set.
func dumpLog(t testing.TB, title string, l *eventLog) {
	if !t.Failed() && os.Getenv("MEET_E2E_VERBOSE") == "" {
		return
	}
	if s := l.String(); s != "" {
		t.Logf("%s:\n%s", title, s)
	}
}

// syncWriter is an io.Writer that is safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
