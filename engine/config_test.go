package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/engine/auth"
)

// TestConfigValidate checks that every bad field is reported by name.
func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{field: "listen", mod: func(c *Config) { c.Listen = "nohostport" }},
		{field: "loops", mod: func(c *Config) { c.Loops = -1 }},
		{field: "max_connections", mod: func(c *Config) { c.MaxConnections = -5 }},
		{field: "max_packet_size", mod: func(c *Config) { c.MaxPacketSize = 3 }},
		{field: "max_inflight", mod: func(c *Config) { c.MaxInflight = 0 }},
		{field: "max_queued_messages", mod: func(c *Config) { c.MaxQueuedMessages = -1 }},
		{field: "max_outbound_bytes", mod: func(c *Config) { c.MaxOutboundBytes = 10 }},
		{field: "max_outbound_bytes", mod: func(c *Config) { c.MaxOutboundBytes = 1<<30 + 1 }},
		{field: "slow_consumer_timeout", mod: func(c *Config) { c.SlowConsumerTimeout = 0 }},
		{field: "connect_timeout", mod: func(c *Config) { c.ConnectTimeout = 0 }},
		{field: "keep_alive_min", mod: func(c *Config) { c.KeepAliveMin, c.KeepAliveMax = time.Minute, time.Second }},
		{field: "keep_alive_max", mod: func(c *Config) { c.KeepAliveMax = 100000 * time.Second }},
		{field: "sys_interval", mod: func(c *Config) { c.SysInterval = time.Millisecond }},
		{field: "log_level", mod: func(c *Config) { c.LogLevel = "loud" }},
		{field: "max_client_id_length", mod: func(c *Config) { c.MaxClientIDLength = 5 }},
		{field: "receive_maximum", mod: func(c *Config) { c.ReceiveMaximum = 0 }},
		{field: "max_topic_levels", mod: func(c *Config) { c.MaxTopicLevels = 0 }},
		{field: "max_topic_length", mod: func(c *Config) { c.MaxTopicLength = 65536 }},
		{field: "max_subscribe_filters", mod: func(c *Config) { c.MaxSubscribeFilters = 0 }},
		{field: "max_user_properties", mod: func(c *Config) { c.MaxUserProperties = 70000 }},
		{field: "topic_alias_bytes", mod: func(c *Config) { c.TopicAliasBytes = -1 }},
		{field: "match_cache_bytes", mod: func(c *Config) { c.MatchCacheBytes = -1 }},
		{field: "max_sessions", mod: func(c *Config) { c.MaxSessions = 0 }},
		{field: "max_subscriptions_per_client", mod: func(c *Config) { c.MaxSubscriptionsPerClient = 0 }},
		{field: "max_retained_messages", mod: func(c *Config) { c.MaxRetainedMessages = -1 }},
		{field: "max_retained_bytes", mod: func(c *Config) { c.MaxRetainedBytes = -1 }},
		{field: "max_queued_bytes", mod: func(c *Config) { c.MaxQueuedBytes = 100 }},
		{field: "max_queued_bytes_total", mod: func(c *Config) { c.MaxQueuedBytesTotal = c.MaxQueuedBytes - 1 }},
		{field: "max_handover_bytes", mod: func(c *Config) { c.MaxHandoverBytes = 1000 }},
		{field: "max_delayed_wills", mod: func(c *Config) { c.MaxDelayedWills = -1 }},
		{field: "max_delayed_will_bytes", mod: func(c *Config) { c.MaxDelayedWillBytes = -1 }},
		{field: "max_partial_bytes", mod: func(c *Config) { c.MaxPartialBytes = c.MaxPacketSize - 1 }},
		{field: "max_takeover_bytes", mod: func(c *Config) { c.MaxTakeoverBytes = -1 }},
		{field: "memory_limit", mod: func(c *Config) { c.MemoryLimit = -2 }},
		{field: "trim_excess", mod: func(c *Config) { c.TrimExcess = -1 }},
		{field: "password_file", mod: func(c *Config) { c.PasswordFile, c.Authenticator = "users", &auth.Users{} }},
		{field: "auth_workers", mod: func(c *Config) { c.AuthWorkers = -1 }},
		{field: "auth_workers", mod: func(c *Config) { c.AuthWorkers = 5000 }},
		{field: "auth_queue", mod: func(c *Config) { c.AuthQueue = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}
