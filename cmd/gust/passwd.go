package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

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
			"Adds USER to the users file FILE or changes its password: asked twice without\n"+
			"echo on a terminal, else read from the first line of standard input, unless\n"+
			"--password is given. The file keeps salted SCRAM-SHA-256 keys, never the\n"+
			"password (entries written by mosquitto_passwd are kept as they are); use it\n"+
			"with gust serve --password-file.")
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
		var err error
		if pw, err = readNewPassword(stdin, stderr); err != nil {
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

// readNewPassword reads the new password: from a terminal without echo,
// asked twice; from anything else (a pipe, a file) the first line.
func readNewPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return readPassword(stdin)
	}
	return askTwice(func(prompt string) ([]byte, error) {
		fmt.Fprint(stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr) // the newline typed was not echoed either
		return pw, err
	})
}

// askTwice asks for the password with ask and again to confirm it.
func askTwice(ask func(prompt string) ([]byte, error)) ([]byte, error) {
	pw, err := ask("Password: ")
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	again, err := ask("Password again: ")
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the passwords do not match")
	}
	return pw, nil
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
