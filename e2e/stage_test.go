package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"meet/protocol"
)

// stageWait bounds each wait of the stage test: six tabs on a small
// machine take their time to start and decode.
const stageWait = 60 * time.Second

// gumCounterScript counts the page's getUserMedia calls in
// window.__gumCalls, to prove that a receive-only join never asks for the
// camera.
const gumCounterScript = `(() => {
  window.__gumCalls = 0;
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => { window.__gumCalls++; return gum(c); };
})();`

// stageTile selects a participant's tile on the stage.
func stageTile(participantID string) string {
	return fmt.Sprintf(`[data-testid="stage"] [data-participant-id=%q]`, participantID)
}

// stageOrderJS lists the participant ids on the stage, in order.
const stageOrderJS = `[...document.querySelectorAll('[data-testid="stage"] [data-participant-id]')].map(e => e.getAttribute('data-participant-id'))`

// TestStageClassroom is issue 6's browser test, in real Chromium with fake
// cameras. The teacher creates a classroom on the home page, joins (no
// camera is opened: off the stage, a classroom is receive-only) and goes on
// stage with the go-on-stage button. Five students join with ?spectator=1
// and each sees the teacher's video on the stage playing (frames keep
// arriving). One student raises a hand, the teacher accepts it from the
// queue, and the student's camera, opened only then, plays on the stage
// for everyone, in the same order on every page.
func TestStageClassroom(t *testing.T) {
	testStage(t, nil)
}

// TestStageMixedFirefox is the classroom with students 2 and 3 in Firefox
// ESR: Firefox viewers watch the Chromium teacher, and the Firefox student
// who raises a hand presents to the Chromium teacher and classmates.
func TestStageMixedFirefox(t *testing.T) {
	testStage(t, map[string]browserKind{"Student 2": firefox, "Student 3": firefox})
}

// testStage runs the classroom with each person in the browser kinds names
// (Chromium when not named).
func testStage(t *testing.T, kinds map[string]browserKind) {
	srv := startApp(t)
	browsers := newBrowsers(t)

	open := func(name string) *tab {
		kind := kinds[name]
		if kind == "" {
			kind = chromium
		}
		p := browsers.get(kind).newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		p.addInitScript(gumCounterScript)
		return p
	}
	selfID := func(p *tab) string {
		return waitFor[string](p, stageWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}
	gumCalls := func(p *tab) int { return evalJS[int](p, `window.__gumCalls`) }
	// playing waits until the videos of a tile present new frames, and
	// then checks that they keep doing so: one late frame is not playing.
	playing := func(p *tab, sel string) map[string]videoStat {
		waitFramesAdvance(p, sel, 1, stageWait)
		return waitFramesAdvance(p, sel, 1, 5*time.Second)
	}

	// 1. The teacher creates the classroom and goes on stage.
	teacher := open("teacher")
	teacher.navigate(srv.URL + "/")
	teacher.typeText(`[data-testid="create-room-name"]`, "Physics lecture")
	teacher.click(`[data-testid="create-classroom"]`)
	teacher.click(`[data-testid="create-room"]`)
	roomID := waitFor[string](teacher, stageWait, "the page is the new room's link",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	api := srv.newAPIClient()
	if room := api.room(roomID); !room.Classroom {
		t.Fatalf("the room made with the classroom box ticked is not a classroom: %+v", room)
	}
	fillDisplayName(teacher, `'Teacher'`)
	teacher.click(`[data-testid="join"]`)
	teacherID := selfID(teacher)
	if n := gumCalls(teacher); n != 0 {
		t.Fatalf("the teacher, off the stage of a classroom, opened the camera %d times before going on stage", n)
	}
	teacher.click(`[data-testid="go-on-stage"]`)
	waitFor[bool](teacher, stageWait, "the teacher's tile is on the stage", `!!document.querySelector(`+jsonString(stageTile(teacherID))+`)`)
	waitFramesAdvance(teacher, stageTile(teacherID), 1, stageWait)
	api.waitParticipants(roomID, "the teacher publishes a camera", stageWait, func(list []protocol.Participant) bool {
		return len(list) == 1 && list[0].Media[protocol.SourceCamera] == protocol.TrackLive
	})

	// 2. Five students join receive-only and each sees the teacher play.
	var students []*tab
	var studentIDs []string
	for i := range 5 {
		name := fmt.Sprintf("Student %d", i+1)
		s := open(name)
		s.navigate(srv.roomURL(roomID, url.Values{"name": {name}, "spectator": {"1"}, "join": {"1"}}))
		studentIDs = append(studentIDs, selfID(s))
		students = append(students, s)
	}
	for _, s := range students {
		waitFor[bool](s, stageWait, "the teacher's tile is on my stage", `!!document.querySelector(`+jsonString(stageTile(teacherID))+`)`)
		stats := playing(s, stageTile(teacherID))
		t.Logf("%s sees the teacher on the stage: %s", s.name, jsonString(stats))
		if n := gumCalls(s); n != 0 {
			t.Errorf("%s joined with ?spectator=1 and still called getUserMedia %d times", s.name, n)
		}
	}
	api.waitParticipants(roomID, "six people are in the room", stageWait, func(list []protocol.Participant) bool { return len(list) == 6 })
	t.Logf("room mode with six: %s", api.room(roomID).Mode)

	// 3. Student 3 raises a hand; the teacher accepts it from the queue.
	asker, askerID := students[2], studentIDs[2]
	asker.click(`[data-testid="raise-hand"]`)
	hand := fmt.Sprintf(`[data-testid="hand"][data-hand-id=%q]`, askerID)
	waitFor[bool](teacher, stageWait, "the raised hand is in the teacher's queue", `!!document.querySelector(`+jsonString(hand)+`)`)
	queue := evalJS[[]string](teacher, `[...document.querySelectorAll('[data-testid="hand"]')].map(e => e.getAttribute('data-hand-id'))`)
	if !slices.Equal(queue, []string{askerID}) {
		t.Fatalf("the teacher's queue is %v, want [%s]", queue, askerID)
	}
	teacher.click(hand + ` [data-testid="hand-accept"]`)

	// 4. The student's camera is on the stage, playing, for everyone.
	everyone := append([]*tab{teacher}, students...)
	for _, p := range everyone {
		waitFor[bool](p, stageWait, "the student's tile is on the stage", `!!document.querySelector(`+jsonString(stageTile(askerID))+`)`)
		stats := playing(p, stageTile(askerID))
		t.Logf("%s sees the student on the stage: %s", p.name, jsonString(stats))
	}
	for _, p := range everyone {
		if order := evalJS[[]string](p, stageOrderJS); !slices.Equal(order, []string{teacherID, askerID}) {
			t.Errorf("%s: the stage shows %v, want the teacher then the student %v", p.name, order, []string{teacherID, askerID})
		}
	}
	if n := gumCalls(asker); n == 0 {
		t.Error("the accepted student shows a camera without having opened one")
	}
	for i, s := range students {
		if i != 2 && gumCalls(s) != 0 {
			t.Errorf("%s, still off the stage, opened a camera", s.name)
		}
	}
	// The stage is stored by identity.
	room := api.room(roomID)
	if len(room.Stage) != 2 {
		t.Errorf("the stored stage is %+v, want the teacher and the student", room.Stage)
	}
}
