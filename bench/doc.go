// Package bench is Gust's benchmark harness: named scenarios (each a
// Scenario holding loadgen configurations), targets (Gust, Mosquitto,
// mochi-mqtt and any broker by address, plus the HTTP baseline), and a
// Harness that runs every scenario against every target, alternating the
// targets over repetitions, samples each broker process's CPU time and RSS
// from /proc, and writes a results directory: env.txt, raw.jsonl,
// summary.md and SVG plots, under results/local (ignored by git) unless
// the run is published (Config.Publish), which indexes it in the tracked
// results/README.md.
//
// Nothing here is a mutable global: scenarios are built by functions and
// a Harness owns its state. The loads run in this process through
// loadgen; the brokers run as separate processes started by the harness,
// so their CPU and memory are measured apart from the generator's.
package bench
