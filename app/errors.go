package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Error codes shared by the REST API and the WebSocket `error` message.
// They are part of the protocol (docs/PROTOCOL.md): clients switch on them.
const (
	CodeBadRequest   = "bad_request"
	CodeInvalidJSON  = "invalid_json"
	CodeInvalidName  = "invalid_name"
	CodeNotFound     = "not_found"
	CodeForbidden    = "forbidden"
	CodeTooLarge     = "too_large"
	CodeRoomEnded    = "room_ended"
	CodeMethod       = "method_not_allowed"
	CodeUnauthorized = "unauthorized"
	CodeUnknownType  = "unknown_type"
	CodeUnknownPeer  = "unknown_peer"
	CodeInternal     = "internal"
	CodeRestarting   = "server_restarting"
	CodeRateLimited  = "rate_limited"
	CodeNotSFU       = "not_sfu"
	CodeRoomFull     = "room_full"
	CodeServerFull   = "server_full"
	CodeBadOrigin    = "bad_origin"

	CodeUnsupportedMediaType = "unsupported_media_type"
)

// Error is an error a client can act on: a code, a readable message and the
// HTTP status it maps to. Only errors that are not *Error are internal.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

var (
	errRoomNotFound = newError(http.StatusNotFound, CodeNotFound, "Room not found.")
	errRoomEnded    = newError(http.StatusGone, CodeRoomEnded, "This room has ended.")
	errNotOwner     = newError(http.StatusForbidden, CodeForbidden, "Only the room's owner can do that.")
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// abortWithError writes err as the one JSON error shape of the API. Errors
// that are not *Error are internal: they are logged, and the client gets a
// generic 500 that leaks nothing.
func (s *Server) abortWithError(c *gin.Context, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		apiErr = newError(http.StatusInternalServerError, CodeInternal, "Something went wrong on the server.")
	} else {
		s.log.Debug("request refused", "method", c.Request.Method, "path", c.Request.URL.Path, "code", apiErr.Code)
	}
	c.AbortWithStatusJSON(apiErr.Status, errorBody{Error: errorDetail{Code: apiErr.Code, Message: apiErr.Message}})
}
