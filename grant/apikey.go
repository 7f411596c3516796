package grant

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// An API key is an Ed25519 key pair. The server keeps only the public half:
// it verifies join tokens with it but cannot sign one, so a leaked database
// lets nobody mint tokens. (An HMAC key would have to be stored as it is,
// since verifying needs the same key that signs.)
const (
	keyIDPrefix  = "ak_"
	keyIDChars   = 12 // of base32: 60 random bits, unique without asking the database
	secretPrefix = "sk_"
)

// NewAPIKey makes a fresh API key: its id ("ak_" and 12 characters), the
// public half the server stores, and the secret its owner keeps: "sk_" and
// the private key's 32-byte seed in unpadded base64url. The secret is shown
// once; nothing can recover it later.
func NewAPIKey() (id string, pub ed25519.PublicKey, secret string, err error) {
	pub, priv, err := ed25519.GenerateKey(nil) // nil: crypto/rand
	if err != nil {
		return "", nil, "", fmt.Errorf("grant: make API key: %w", err)
	}
	secret = secretPrefix + base64.RawURLEncoding.EncodeToString(priv.Seed())
	return keyIDPrefix + randomBase32(keyIDChars), pub, secret, nil
}

// ParseSecret returns the private key of an "sk_..." secret from NewAPIKey.
func ParseSecret(secret string) (ed25519.PrivateKey, error) {
	encoded, ok := strings.CutPrefix(strings.TrimSpace(secret), secretPrefix)
	if !ok {
		return nil, errors.New(`grant: an API key secret starts with "sk_"`)
	}
	seed, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("grant: an API key secret is %q and %d bytes in unpadded base64url", secretPrefix, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// validKeyID reports whether kid has the shape of NewAPIKey's ids, so a
// token's header never sends garbage to the key lookup.
func validKeyID(kid string) bool {
	rest, ok := strings.CutPrefix(kid, keyIDPrefix)
	if !ok || len(rest) != keyIDChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(base32Alphabet, rune(rest[i])) {
			return false
		}
	}
	return true
}
