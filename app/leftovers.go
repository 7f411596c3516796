package app

import (
	"slices"
	"time"

	"meet/record"
	"meet/store"
)

// What a node leaves open in the store when it stops or dies: the
// attendance rows of the participants connected to it, and the recordings
// it was writing. Each row names its node, so a node closes only what no
// live node holds: its own rows as it starts and stops, and a dead node's
// once the live nodes no longer count it. On one node that is everything
// open, as before there were nodes.

// closeWhatWasOpen closes, as this node starts, what its last run and any
// dead node left open: nobody is connected to a process that has just
// started, and nothing records there.
func (s *Server) closeWhatWasOpen() error {
	others, err := s.otherLiveNodes()
	if err != nil {
		return err
	}
	return s.closeLeftovers(others)
}

// closeOwnAttendance closes this node's attendance rows as it stops.
func (s *Server) closeOwnAttendance() error {
	others, err := s.otherLiveNodes()
	if err != nil {
		return err
	}
	return s.store.CloseOpenAttendance(others)
}

// otherLiveNodes lists the ids of the live nodes but this one.
func (s *Server) otherLiveNodes() ([]string, error) {
	live, err := s.store.LiveNodes(time.Now(), s.node.timeout)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range live {
		if n.ID != s.node.id {
			ids = append(ids, n.ID)
		}
	}
	return ids, nil
}

// closeLeftovers closes the attendance rows and recordings of every node
// not in keep.
func (s *Server) closeLeftovers(keep []string) error {
	if err := s.store.CloseOpenAttendance(keep); err != nil {
		return err
	}
	return s.interruptRecordings(keep)
}

// sweepDeadNodes closes what the nodes that died since the last heartbeat
// left open, once the live nodes (this one among them) are known to have
// changed: a room placed again on this node must not keep a dead node's
// participants in its attendance, nor its recording running.
func (s *Server) sweepDeadNodes(live []store.Node) {
	ids := make([]string, len(live))
	for i, n := range live {
		ids[i] = n.ID
	}
	slices.Sort(ids)
	last := s.node.lastLive
	s.node.lastLive = ids
	gone := false
	for _, id := range last {
		if !slices.Contains(ids, id) {
			gone = true
		}
	}
	if !gone {
		return
	}
	if err := s.closeLeftovers(ids); err != nil {
		s.log.Warn("close what dead nodes left open", "node", s.node.id, "err", err)
	}
}

// interruptRecordings marks what was recording on a node not in keep as
// interrupted, in the store, and in each manifest this node can reach: its
// files play up to their last whole cluster.
func (s *Server) interruptRecordings(keep []string) error {
	recs, err := s.store.InterruptRecordings("The server stopped during the recording.", keep)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.NodeID == s.node.id || rec.NodeID == "" {
			if _, err := record.MarkInterrupted(rec.Dir); err != nil {
				s.log.Warn("recording: mark its manifest interrupted", "recording", rec.ID, "err", err)
			}
		}
		s.log.Warn("recording interrupted: its node stopped", "room", rec.RoomID, "recording", rec.ID, "recorded_on", rec.NodeID)
	}
	return nil
}
