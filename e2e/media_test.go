package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// This file proves that media really flows: frames keep arriving in remote
// <video> elements, counted by the browser.

// videoStat is what one <video> element reports.
type videoStat struct {
	Tile        string `json:"tile"`  // data-participant-id of its tile
	Index       int    `json:"index"` // its position among the tile's videos
	TotalFrames int    `json:"totalFrames"`
	RVFCFrames  int    `json:"rvfcFrames"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Paused      bool   `json:"paused"`
	HasStream   bool   `json:"hasStream"`
}

func (v videoStat) key() string { return fmt.Sprintf("%s#%d", v.Tile, v.Index) }

// videoStatsJS returns the stats of the <video> elements inside the elements
// that match tileSelector.
func videoStatsJS(tileSelector string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].flatMap(tile =>
  [...tile.querySelectorAll('video')].map((v, i) => ({
    tile: tile.getAttribute('data-participant-id') || '',
    index: i,
    totalFrames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
    rvfcFrames: v.__e2eFrames || 0,
    width: v.videoWidth, height: v.videoHeight,
    paused: v.paused,
    hasStream: !!v.srcObject,
  })))`, tileSelector)
}

// remoteTiles selects the tiles of the remote participants.
const remoteTiles = `[data-participant-id]:not([data-local])`

// tileSelector selects the tile of one participant.
func tileSelector(participantID string) string {
	return fmt.Sprintf(`[data-participant-id=%q]`, participantID)
}

// videoStats samples the videos of the tiles that match tileSelector.
func videoStats(tb *tab, tileSelector string) map[string]videoStat {
	tb.t.Helper()
	list := evalJS[[]videoStat](tb, videoStatsJS(tileSelector))
	m := make(map[string]videoStat, len(list))
	for _, v := range list {
		m[v.key()] = v
	}
	return m
}

// waitFramesAdvance waits until every video in the tiles that match
// tileSelector, at least want videos in all, has a size and presents new
// frames between two samples about a second apart. It retries until timeout,
// and fails the test with the last samples.
func waitFramesAdvance(tb *tab, tileSelector string, want int, timeout time.Duration) map[string]videoStat {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	var problem string
	for {
		before := videoStats(tb, tileSelector)
		time.Sleep(time.Second)
		after := videoStats(tb, tileSelector)
		problem = framesProblem(before, after, want)
		if problem == "" {
			return after
		}
		if time.Now().After(deadline) {
			break
		}
	}
	tb.t.Fatalf("%s: videos in %s did not all play within %v: %s", tb.name, tileSelector, timeout, problem)
	return nil
}

// framesProblem says what is wrong with two samples, or returns "".
func framesProblem(before, after map[string]videoStat, want int) string {
	if len(after) < want {
		return fmt.Sprintf("%d videos, want at least %d: %v", len(after), want, after)
	}
	var bad []string
	for k, a := range after {
		b, ok := before[k]
		switch {
		case !ok:
			bad = append(bad, k+" is new")
		case a.Width == 0 || a.Height == 0:
			bad = append(bad, fmt.Sprintf("%s has no size (%+v)", k, a))
		case a.TotalFrames <= b.TotalFrames && a.RVFCFrames <= b.RVFCFrames:
			bad = append(bad, fmt.Sprintf("%s is frozen (frames %d -> %d, presented %d -> %d, %+v)",
				k, b.TotalFrames, a.TotalFrames, b.RVFCFrames, a.RVFCFrames, a))
		}
	}
	return strings.Join(bad, "; ")
}

// firstRemoteFrameMillis waits for the first frame of a remote video in the
// tab (probeScript must be installed) and returns its time since the
// navigation started, in milliseconds.
func firstRemoteFrameMillis(tb *tab, timeout time.Duration) float64 {
	tb.t.Helper()
	return waitFor[float64](tb, timeout, "a remote video presents its first frame",
		`window.__e2e && window.__e2e.firstRemoteFrameAt`)
}

// receiveDiagnosisJS sums up, in a few lines, why a page may not play what
// it should: the last WebSocket messages, and for each connection its
// state and what its inbound streams received and decoded. A long test's
// full failure dump can be cut short in a CI report; this is logged first.
const receiveDiagnosisJS = `(async () => {
  const e2e = window.__e2e || { pcs: [], ws: [] };
  const lines = e2e.ws.slice(-14).map(l => 'ws ' + l);
  for (const [i, pc] of e2e.pcs.entries()) {
    let line = 'pc' + i + ' ' + pc.connectionState + '/' + pc.signalingState;
    try {
      const stats = await pc.getStats();
      stats.forEach(s => {
        if (s.type !== 'inbound-rtp') return;
        line += ' | in ' + s.kind + ' pkts ' + s.packetsReceived + ' lost ' + s.packetsLost +
          (s.kind === 'video' ? ' decoded ' + s.framesDecoded + ' key ' + s.keyFramesDecoded + ' pli ' + s.pliCount + ' nack ' + s.nackCount : '');
      });
    } catch (e) { line += ' (stats: ' + e + ')'; }
    lines.push(line + ' | ' + (pc.__e2eLog || []).slice(-4).join(', '));
  }
  return lines.join('\n');
})()`

// logReceiveDiagnosis logs receiveDiagnosisJS for each tab, when the test
// failed.
func logReceiveDiagnosis(t testing.TB, tabs ...*tab) {
	if !t.Failed() {
		return
	}
	for _, tb := range tabs {
		ctx, cancel := context.WithTimeout(tb.drv.context(), 10*time.Second)
		raw, err := tb.drv.evalJSON(ctx, receiveDiagnosisJS)
		cancel()
		var text string
		if err == nil {
			err = json.Unmarshal(raw, &text)
		}
		if err != nil {
			text = err.Error()
		}
		t.Logf("%s receives:\n%s", tb.name, text)
	}
}
