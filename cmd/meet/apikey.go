package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"meet/grant"
	"meet/store"
)

// maxKeyNameRunes matches the store's column for API key names.
const maxKeyNameRunes = 100

// runAPIKey runs `meet apikey create NAME`, `meet apikey list` and `meet
// apikey revoke NAME|ID` on the database the server uses: the same -db
// flag and MEET_DB twin, given before or after the words. The server may
// be running; SQLite and PostgreSQL let both in.
func runAPIKey(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, words, err := parseAPIKeyArgs(args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		apiKeyUsage(stderr)
		return errors.New("apikey: say create NAME, list or revoke NAME|ID")
	}
	command, rest := words[0], words[1:]
	want := map[string]int{"create": 1, "list": 0, "revoke": 1}
	n, known := want[command]
	switch {
	case !known:
		apiKeyUsage(stderr)
		return fmt.Errorf("apikey: unknown command %q: say create, list or revoke", command)
	case len(rest) != n && n == 0:
		return fmt.Errorf("apikey %s takes no argument, got %q", command, rest)
	case len(rest) != n:
		return fmt.Errorf("apikey %s takes one argument (quote a name with spaces), got %d", command, len(rest))
	}
	if command == "create" {
		rest[0] = strings.TrimSpace(rest[0])
		if err := checkKeyName(rest[0]); err != nil {
			return err
		}
	} else if _, err := os.Stat(cfg.dbPath); err != nil && !store.IsPostgres(cfg.dbPath) {
		// Listing or revoking in a database that is not there is a wrong
		// -db: say so rather than create an empty one.
		return fmt.Errorf("apikey: no database at %s (give the server's -db or MEET_DB): %w", cfg.dbPath, err)
	}
	db, err := store.Open(cfg.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	switch command {
	case "create":
		return createAPIKey(db, store.Redacted(cfg.dbPath), rest[0], stdout)
	case "list":
		return listAPIKeys(db, stdout)
	default:
		return revokeAPIKey(db, rest[0], stdout)
	}
}

// parseAPIKeyArgs reads the server's flags, of which only -db matters
// here, wherever they stand among the words, then their MEET_* twins. It
// returns the words.
func parseAPIKeyArgs(args []string, getenv func(string) string, stderr io.Writer) (*config, []string, error) {
	cfg := &config{}
	fs := cfg.flagSet(stderr)
	fs.Usage = func() { apiKeyUsage(stderr) }
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := setFromEnv(fs, getenv); err != nil {
		return nil, nil, err
	}
	return cfg, words, nil
}

func apiKeyUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage:
  meet apikey create NAME      make an API key for another app's backend to sign join tokens with;
                               prints its id and its secret, once
  meet apikey list             list the API keys
  meet apikey revoke NAME|ID   refuse the key's join tokens from now on

  -db FILE|URL   the server's database: SQLite file or postgres:// URL (default %q; MEET_DB)
`, (&config{}).flagSet(io.Discard).Lookup("db").DefValue)
}

// createAPIKey makes a key named name (checked), stores its public half
// and prints the id and the secret, which nothing can show again.
func createAPIKey(db *store.Store, dbPath, name string, stdout io.Writer) error {
	id, pub, secret, err := grant.NewAPIKey()
	if err != nil {
		return err
	}
	if err := db.CreateAPIKey(id, name, pub); err != nil {
		if errors.Is(err, store.ErrNameTaken) {
			return fmt.Errorf("apikey: an API key named %q exists already (revoked keys keep their names): choose another name", name)
		}
		return err
	}
	fmt.Fprintf(stdout, "Created API key %q in %s.\n  id:     %s\n  secret: %s\n", name, dbPath, id, secret)
	fmt.Fprintln(stdout, "Only the public half of the key is kept: copy the secret now, it cannot be shown again.")
	return nil
}

// checkKeyName refuses names the list would show badly, and names of the
// shape of a key id, which revoke would take for one.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return errors.New("apikey: the name is empty")
	case utf8.RuneCountInString(name) > maxKeyNameRunes:
		return fmt.Errorf("apikey: the name is longer than %d characters", maxKeyNameRunes)
	case strings.HasPrefix(name, "ak_"):
		return errors.New(`apikey: a name may not start with "ak_", as key ids do`)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return errors.New("apikey: the name has a control character")
	}
	return nil
}

func listAPIKeys(db *store.Store, stdout io.Writer) error {
	keys, err := db.APIKeys()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(stdout, "No API keys; make one with: meet apikey create NAME")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(listTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.UTC().Format(listTime), revoked)
	}
	return tw.Flush()
}

const listTime = time.DateTime + " UTC"

func revokeAPIKey(db *store.Store, nameOrID string, stdout io.Writer) error {
	if err := db.RevokeAPIKey(nameOrID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("apikey: no API key has the name or id %q (see meet apikey list)", nameOrID)
		}
		return err
	}
	fmt.Fprintf(stdout, "Revoked API key %q: joins with its tokens are refused from now on.\n", nameOrID)
	return nil
}
