package cluster

import (
	"strings"
	"testing"
)

// TestValidateToken: cluster_token is refused without clustering, with
// cluster_nats_url, and with white space; each error names it.
func TestValidateToken(t *testing.T) {
	for _, c := range []Config{
		{Token: "x"},
		{Enabled: true, PendingMessages: 1, PendingBytes: 1, NATSURL: "nats://127.0.0.1:4222", Token: "x"},
		{Enabled: true, PendingMessages: 1, PendingBytes: 1, Token: "a b"},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "cluster_token") {
			t.Errorf("%+v: %v, want an error naming cluster_token", c, err)
		}
	}
	ok := Config{Enabled: true, PendingMessages: 1, PendingBytes: 1, Token: "s3cret"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	got := withToken([]string{"nats-route://127.0.0.1:6222"}, "p@ss:/")
	if len(got) != 1 || !strings.HasPrefix(got[0], "nats-route://gust:p%40ss%3A%2F@127.0.0.1:6222") {
		t.Fatalf("withToken: %q", got)
	}
}
