package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

func TestLastFlag(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  string
		found bool
	}{
		{args: []string{"--store", "memory", "--loops", "1"}, want: "memory", found: true},
		{args: []string{"--store", "memory", "--store=disk"}, want: "disk", found: true},
		{args: []string{"-store", "disk", "--store", "memory"}, want: "memory", found: true},
		{args: []string{"--loops", "1"}, want: "", found: false},
		{args: []string{"--store"}, want: "", found: false}, // no value
		{args: []string{"--stores", "disk"}, want: "", found: false},
	} {
		got, found := lastFlag(tc.args, "store")
		if got != tc.want || found != tc.found {
			t.Errorf("lastFlag(%q) = %q, %v; want %q, %v", tc.args, got, found, tc.want, tc.found)
		}
	}
}

func TestTargetDurable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{in: "gust", want: false},
		{in: NameGustDisk, want: true},
		{in: "g10=gust:--store disk --fsync 10ms", want: true},
		{in: "gm=gust:--store disk --store memory", want: false},
		{in: NameMosquittoPersist, want: false},
	} {
		tg, err := ParseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.Durable(); got != tc.want {
			t.Errorf("ParseTarget(%q).Durable() = %v, want %v", tc.in, got, tc.want)
		}
	}
	if tg, _ := ParseTarget(NameMosquittoPersist); !tg.Persist {
		t.Errorf("%s: Persist not set", NameMosquittoPersist)
	}
	if v, _ := lastFlag(GustArgs(), "store"); v != "memory" {
		t.Errorf("GustArgs store = %q, want memory", v)
	}
}

func TestMosquittoPersistConfig(t *testing.T) {
	conf := MosquittoPersistConfig(1883, "/x/db")
	for _, want := range []string{"persistence true\n", "persistence_location /x/db/\n", "listener 1883 127.0.0.1\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "persistence false") || strings.Contains(conf, "autosave_interval") {
		t.Errorf("config keeps persistence off or sets the autosave interval:\n%s", conf)
	}
}

// TestMosquittoPersistTarget starts the mosquitto-persist target, stores
// retained messages, and checks that Mosquitto saves its database into
// the directory made for this start on shutdown, and that stop removes it.
func TestMosquittoPersistTarget(t *testing.T) {
	needMosquitto(t)
	tg, _ := ParseTarget(NameMosquittoPersist)
	ctx := context.Background()
	if err := tg.prepare(ctx, "", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	r, err := tg.start(ctx, t.TempDir(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	if len(r.dirs) != 1 {
		t.Fatalf("data dirs %q, want one", r.dirs)
	}
	dir := r.dirs[0]
	cfg := loadgen.DefaultConfig()
	cfg.Addr, cfg.Mode, cfg.QoS, cfg.Retain = r.addr, loadgen.ModePub, 1, true
	cfg.Publishers, cfg.Count, cfg.PubTopic = 1, 50, "persist/%n"
	if res, err := loadgen.Run(ctx, cfg); err != nil || res.Acked != 50 {
		t.Fatalf("publish: %v %+v", err, res)
	}
	// SIGTERM: Mosquitto writes its database as it exits.
	_ = r.cmd.Process.Signal(os.Interrupt)
	deadline := time.Now().Add(5 * time.Second)
	db := filepath.Join(dir, "mosquitto.db")
	for {
		if st, err := os.Stat(db); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no database at %s after shutdown", db)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s not removed: %v", dir, err)
	}
}
