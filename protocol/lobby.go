package protocol

// Messages of the lobby. In a room with the lobby setting on, a joiner who
// is not the owner waits outside the room (told with LobbyWait) until the
// owner admits it (then its welcome comes, as for any join) or denies it
// (an error with code CodeDenied and ref "join", then close
// CloseRoomGone). A waiter is not a participant: nobody but the owner
// sees it, and it neither sends nor receives media or chat.
const (
	// Server → client.
	TypeLobby     = "lobby"      // to the owner's tabs: the whole queue of waiters, after any change
	TypeLobbyWait = "lobby-wait" // to a waiting joiner: it waits for the owner (code in_lobby)

	// Client → server, owner.
	TypeLobbyAdmit    = "lobby-admit"     // let one waiter in
	TypeLobbyDeny     = "lobby-deny"      // refuse one waiter
	TypeLobbyAdmitAll = "lobby-admit-all" // let every waiter in
)

// Waiter is one joiner waiting in the lobby, named by the participant id
// it will have once admitted.
type Waiter struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

// Lobby is the owner's view of the queue, in arrival order.
type Lobby struct {
	Type    string   `json:"type"`
	Waiting []Waiter `json:"waiting"`
}

// LobbyWait tells a joiner it waits in the lobby. Code is CodeInLobby, so
// that a client reading only codes knows what the wait is.
type LobbyWait struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// LobbyAdmit lets the waiter ID in.
type LobbyAdmit struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// LobbyDeny refuses the waiter ID.
type LobbyDeny struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// LobbyAdmitAll lets everyone waiting in.
type LobbyAdmitAll struct {
	Type string `json:"type"`
}

func (m *LobbyAdmit) validate() error { return needID(m.ID, TypeLobbyAdmit) }

func (m *LobbyDeny) validate() error { return needID(m.ID, TypeLobbyDeny) }

func (m *LobbyAdmitAll) validate() error { return nil }
