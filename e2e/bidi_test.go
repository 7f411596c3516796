package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
)

// This file is a small WebDriver BiDi client: JSON commands over one
// WebSocket, answered by id, and events. It speaks the part of the protocol
// the tests use (browsingContext, script, input, log, browser); Firefox
// serves it on --remote-debugging-port. No well-kept Go client exists, and
// puppeteer-core would put the browser tests in Node, apart from the Go
// server they start and the Chromium tabs a mixed room shares with them.

// bidiConn is one BiDi session's connection.
type bidiConn struct {
	ws *websocket.Conn

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan bidiMessage
	onEvent func(method string, params json.RawMessage)
	closed  chan struct{}
	err     error // why the connection ended, once closed is closed
}

// bidiMessage is any message from the browser: a command's success or
// error (by id) or an event.
type bidiMessage struct {
	Type    string          `json:"type"` // success, error, event
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// dialBiDi connects to a BiDi endpoint (ws://host:port/session) and reads
// its messages until it closes. onEvent runs on the reader goroutine.
func dialBiDi(ctx context.Context, url string, onEvent func(string, json.RawMessage)) (*bidiConn, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20) // screenshots
	c := &bidiConn{ws: ws, pending: map[int64]chan bidiMessage{}, onEvent: onEvent, closed: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *bidiConn) read() {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.closed)
	}()
	for {
		var m bidiMessage
		if err = c.ws.ReadJSON(&m); err != nil {
			return
		}
		if m.Type == "event" {
			if c.onEvent != nil {
				c.onEvent(m.Method, m.Params)
			}
			continue
		}
		if m.ID == nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends one command and waits for its answer.
func (c *bidiConn) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	c.writeMu.Lock()
	err := c.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	c.writeMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		return m.Result, nil
	case <-c.closed:
		return nil, fmt.Errorf("%s: the BiDi connection closed: %v", method, c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// callInto is call, decoding the result into out.
func (c *bidiConn) callInto(ctx context.Context, method string, params, out any) error {
	raw, err := c.call(ctx, method, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decoding %s: %w", method, shorten(string(raw), 200), err)
	}
	return nil
}

func (c *bidiConn) close() { _ = c.ws.Close() }

// remoteValue is a script result in BiDi's serialization: primitives carry
// their value; objects a handle (with resultOwnership "root") and, for DOM
// nodes, a sharedId.
type remoteValue struct {
	Type     string          `json:"type"`
	Value    json.RawMessage `json:"value"`
	Handle   string          `json:"handle"`
	SharedID string          `json:"sharedId"`
}

// scriptResult is the answer of script.evaluate and script.callFunction.
type scriptResult struct {
	Type             string      `json:"type"` // success or exception
	Result           remoteValue `json:"result"`
	ExceptionDetails struct {
		Text string `json:"text"`
	} `json:"exceptionDetails"`
}

func (r scriptResult) err() error {
	if r.Type == "exception" {
		return errors.New("exception: " + r.ExceptionDetails.Text)
	}
	return nil
}

// primitiveJSON turns a primitive remote value into JSON; ok is false for
// an object, which needs its handle.
func (v remoteValue) primitiveJSON() (raw []byte, ok bool) {
	switch v.Type {
	case "undefined", "null":
		return []byte("null"), true
	case "string", "boolean":
		return v.Value, true
	case "number":
		// Special numbers arrive as strings: "NaN", "-0", "Infinity".
		var s string
		if json.Unmarshal(v.Value, &s) == nil {
			if s == "-0" {
				return []byte("0"), true
			}
			return []byte("null"), true // as JSON.stringify has it
		}
		return v.Value, true
	case "bigint":
		var s string
		_ = json.Unmarshal(v.Value, &s)
		return []byte(strconv.Quote(s)), true
	}
	return nil, false
}
