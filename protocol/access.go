package protocol

// Messages of who may do what in a room beyond its owner: co-hosts
// (moderators) and bans. Hosts are the owner and the moderators: a
// moderator has every owner power but ending the room and handing it
// over. A ban follows the identity: a banned identity is refused with
// CodeBanned on every join until a host lifts the ban.
const (
	// Client → server, host.
	TypeRoleSet = "role-set" // make a participant's identity a moderator, a presenter or a plain participant
	TypeUnban   = "unban"    // lift the ban of an identity
)

// RoleSet gives participant ID's identity Role: RoleModerator,
// RolePresenter or RoleParticipant (which takes either away).
type RoleSet struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Unban lifts the ban of identity UserID.
type Unban struct {
	Type   string `json:"type"`
	UserID string `json:"userId"`
}

// Ban is one banned identity, as GET /api/rooms/:id/bans lists them.
type Ban struct {
	UserID   string `json:"userId"`
	Name     string `json:"name"`
	BannedAt string `json:"bannedAt"`
}

func (m *RoleSet) validate() error {
	if err := needID(m.ID, TypeRoleSet); err != nil {
		return err
	}
	switch m.Role {
	case RoleModerator, RolePresenter, RoleParticipant:
		return nil
	}
	return invalid(`%s: "role" must be %q, %q or %q.`, TypeRoleSet, RoleModerator, RolePresenter, RoleParticipant)
}

func (m *Unban) validate() error {
	if !printableID(m.UserID) {
		return invalid(`%s needs a "userId".`, TypeUnban)
	}
	return nil
}
