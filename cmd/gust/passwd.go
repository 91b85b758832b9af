package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gust-mqtt/gust/engine/auth"
)

func init() { commands["passwd"] = runPasswd }

// runPasswd implements `gust passwd`: create, update or delete one user of
// a users file (like mosquitto_passwd).
func runPasswd(args []string) int {
	err := passwd(args, os.Stdin, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust passwd:", err)
		return 2
	}
	return 0
}

// passwd is runPasswd with its input and output given.
func passwd(args []string, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("gust passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gust passwd [flags] FILE USER\n\n"+
			"Adds USER to the users file FILE or changes its password, read from the first\n"+
			"line of standard input unless --password is given. The file keeps salted\n"+
			"SCRAM-SHA-256 keys, never the password; use it with gust serve --password-file.")
		fs.PrintDefaults()
	}
	create := fs.Bool("c", false, "create FILE, replacing any existing one")
	del := fs.Bool("D", false, "delete USER from FILE")
	pass := fs.String("password", "", "the password (visible to other local users in the process list; prefer standard input)")
	iter := fs.Int("iterations", auth.DefaultIterations, "PBKDF2 iterations (at least 4096)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("want FILE and USER")
	}
	file, user := fs.Arg(0), fs.Arg(1)
	if !auth.ValidUserName(user) {
		return fmt.Errorf("user name %q: must be non-empty, without ':' or white space, not starting with '#'", user)
	}
	if *iter < auth.DefaultIterations {
		return fmt.Errorf("--iterations %d: want at least %d", *iter, auth.DefaultIterations)
	}
	var lines []string
	if !*create {
		var err error
		if lines, err = readLines(file); err != nil && !(errors.Is(err, os.ErrNotExist) && !*del) {
			return err
		}
	}
	if *del {
		out, found := replaceUser(lines, user, "")
		if !found {
			return fmt.Errorf("%s: no user %q", file, user)
		}
		return writeLines(file, out)
	}
	pw := []byte(*pass)
	if *pass == "" {
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(stderr, "Password (echoed): ")
			}
		}
		var err error
		if pw, err = readPassword(stdin); err != nil {
			return err
		}
	}
	c, err := auth.NewCredential(pw, *iter)
	if err != nil {
		return err
	}
	out, found := replaceUser(lines, user, auth.FormatUserLine(user, &c))
	if !found {
		out = append(out, auth.FormatUserLine(user, &c))
	}
	return writeLines(file, out)
}

// readPassword reads the password from the first line of r.
func readPassword(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty password (give it on standard input or with --password)")
	}
	return []byte(line), nil
}

// readLines returns the lines of file, checking that each is a valid
// users-file line so a damaged file is not rewritten.
func readLines(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	for i, l := range lines {
		if _, _, err := auth.ParseUserLine(l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
	}
	return lines, nil
}

// replaceUser returns lines with user's line replaced by line (dropped
// when line is empty), and whether user was there.
func replaceUser(lines []string, user, line string) ([]string, bool) {
	out := lines[:0:0]
	found := false
	for _, l := range lines {
		if name, _, _ := auth.ParseUserLine(l); name == user {
			found = true
			if line != "" {
				out = append(out, line)
			}
			continue
		}
		out = append(out, l)
	}
	return out, found
}

// writeLines replaces file with lines, atomically and readable by its
// owner only.
func writeLines(file string, lines []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".gust-passwd-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	body := strings.Join(lines, "\n")
	if body != "" {
		body += "\n"
	}
	if _, err := tmp.WriteString(body); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
