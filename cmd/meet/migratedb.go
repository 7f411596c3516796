package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"meet/store"
)

// runMigrateDB runs `meet migrate-db -from DB -to DB`: it copies every
// table of one store into another, ids and all, both migrated first. It is
// how a server moves from its SQLite file to PostgreSQL; stop the server
// first, so that nothing changes during the copy. A target that holds
// rows is refused unless -overwrite empties it.
func runMigrateDB(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meet migrate-db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the database to copy: a SQLite file or a postgres:// URL")
	to := fs.String("to", "", "the database to copy into: a postgres:// URL (or a SQLite file); it must exist and be empty")
	overwrite := fs.Bool("overwrite", false, "empty the target's tables first instead of refusing a target that holds rows")
	batch := fs.Int("batch", 500, "rows read and written at a time")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meet migrate-db -from ./data/meet.db -to postgres://user:password@host:5432/meet\n\nCopies every table into an empty database; stop the server first.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("migrate-db: unexpected argument %q", fs.Arg(0))
	case *from == "" || *to == "":
		fs.Usage()
		return errors.New("migrate-db: say -from and -to")
	case *from == *to:
		return errors.New("migrate-db: -from and -to are the same database")
	case *batch <= 0:
		return fmt.Errorf("migrate-db: -batch %d: want a positive number", *batch)
	}
	if !store.IsPostgres(*from) {
		// Opening a missing SQLite file would create an empty one.
		if _, err := os.Stat(*from); err != nil {
			return fmt.Errorf("migrate-db: no database at %s: %w", *from, err)
		}
	}
	src, err := store.Open(*from)
	if err != nil {
		return fmt.Errorf("migrate-db: -from: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(*to)
	if err != nil {
		return fmt.Errorf("migrate-db: -to: %w", err)
	}
	defer dst.Close()
	fmt.Fprintf(stdout, "Copying %s (%s) into %s (%s)\n", store.Redacted(*from), src.Dialect(), store.Redacted(*to), dst.Dialect())
	var total int64
	_, err = src.CopyTo(dst, store.CopyOptions{
		BatchSize: *batch,
		Overwrite: *overwrite,
		Progress: func(table string, rows int64) {
			fmt.Fprintf(stdout, "  %-16s %d rows\n", table, rows)
			total += rows
		},
	})
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return fmt.Errorf("migrate-db: %w (-overwrite empties it first)", err)
	}
	if err != nil {
		return fmt.Errorf("migrate-db: %w", err)
	}
	fmt.Fprintf(stdout, "Copied %d rows.\n", total)
	return nil
}
