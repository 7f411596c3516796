package app

import (
	"errors"
	"meet/protocol"
	"net/http"

	"github.com/gin-gonic/gin"
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
	errRoomNotFound = newError(http.StatusNotFound, protocol.CodeNotFound, "Room not found.")
	errRoomEnded    = newError(http.StatusGone, protocol.CodeRoomEnded, "This room has ended.")
	errNotOwner     = newError(http.StatusForbidden, protocol.CodeForbidden, "Only the room's owner can do that.")
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
		apiErr = newError(http.StatusInternalServerError, protocol.CodeInternal, "Something went wrong on the server.")
	} else {
		s.log.Debug("request refused", "method", c.Request.Method, "path", c.Request.URL.Path, "code", apiErr.Code)
	}
	c.AbortWithStatusJSON(apiErr.Status, errorBody{Error: errorDetail{Code: apiErr.Code, Message: apiErr.Message}})
}
