package grant_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"meet/grant"
)

// joinToken is what another application's backend runs to let one of its
// users into a room, with nothing but the jwt library: the code of the
// example in docs/PROTOCOL.md ("Join tokens for other apps").
func joinToken(keyID, secret, userID, name, room, role string) (string, error) {
	seed, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, "sk_"))
	if err != nil || len(seed) != ed25519.SeedSize {
		return "", errors.New("not an sk_ secret of meet apikey create")
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"sub": userID, "name": name, "room": room, "role": role,
		"exp": time.Now().Add(10 * time.Minute).Unix(),
	})
	token.Header["kid"] = keyID
	return token.SignedString(ed25519.NewKeyFromSeed(seed))
}

// Another application's backend signs a join token with the secret that
// `meet apikey create` printed; the server verifies it with the public half
// it kept.
func Example_joinToken() {
	const keyID = "ak_q7m2x4kwc3pd"
	const secret = "sk_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"

	// The other app's backend, for one of its users:
	token, err := joinToken(keyID, secret, "user-42", "Ana", "abcdefghjk", "presenter")
	if err != nil {
		panic(err)
	}

	// The server, when the page opens /ws?room=abcdefghjk&token=...:
	priv, _ := grant.ParseSecret(secret) // the server has only the public half, from its store
	stored := priv.Public().(ed25519.PublicKey)
	lookup := func(kid string) (ed25519.PublicKey, error) {
		if kid != keyID {
			return nil, errors.New("no such key")
		}
		return stored, nil
	}
	claims, err := grant.VerifyToken(token, "abcdefghjk", lookup, time.Now())
	fmt.Println(claims.UserID, claims.Name, claims.Role, err)
	_, err = grant.VerifyToken(token, "zyxwvutsrq", lookup, time.Now())
	fmt.Println(err)
	// Output:
	// user-42 Ana presenter <nil>
	// grant: invalid: the token is for another room
}
