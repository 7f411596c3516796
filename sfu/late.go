package sfu

import "time"

// maxQueueAge is the longest a packet may wait for its subscriber's writer
// (issue 19): an overloaded server that delivered everything would show
// video seconds late, which is worse than a short freeze. A later packet
// is dropped, and a video resumes at its next keyframe.
const maxQueueAge = 300 * time.Millisecond

// lateSkip is the writer's account of the packets it dropped late: how
// many, so that the ones it sends follow each other without a gap the
// subscriber would ask to fill (NACK) from packets it should not get, and
// whether a video is skipping to its next keyframe.
type lateSkip struct {
	shift    uint16
	skipping bool
	sent     bool // a packet went out: the subscriber has had a picture
}

// drop reports whether the writer drops q: it waited longer than
// maxQueueAge, or a video skips to its next keyframe after such a packet.
// A packet that is sent is renumbered past the dropped ones.
func (l *lateSkip) drop(d *downTrack, q *queued) bool {
	if l.skipping && q.p.keyframe {
		l.skipping = false
	}
	if !l.skipping && time.Now().UnixNano()-q.since <= int64(maxQueueAge) {
		q.seq -= l.shift
		l.sent = true
		return false
	}
	if d.up.video {
		// Asked again at every drop while skipping, not only at the first:
		// the track's budget (askKeyframe) spaces the requests, and one it
		// refused, because another subscriber's had just gone, would leave
		// this video frozen, waiting for a keyframe nobody asked for (its
		// viewer sees no loss to ask about: nothing is sent meanwhile).
		// A subscriber whose first picture came late has still seen
		// nothing: it asks as a first picture does.
		l.skipping = true
		if l.sent {
			d.requestKeyframe()
		} else {
			d.requestFirstKeyframe()
		}
	}
	l.shift++
	d.late.Add(1)
	return true
}
