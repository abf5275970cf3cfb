#!/usr/bin/env bash
# kafka-init (deploy/docker-compose.yml): create wiredesk's topics, then load the sample articles
# into the input topic. Idempotent for topics; samples are loaded once (a marker record is not
# possible without state, so a re-run skips loading when the input topic already has data).
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
INPUT_PARTITIONS="${INPUT_PARTITIONS:-6}"
SAMPLES="${SAMPLES:-/samples/articles.jsonl}"
BIN=/opt/kafka/bin

create() { # name partitions [config...]
  local name="$1" partitions="$2"; shift 2
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor 1 "$@"
}

# The input partition count caps useful worker replicas (KEDA maxReplicaCount follows it).
create raw-articles "$INPUT_PARTITIONS"
create enriched-articles "$INPUT_PARTITIONS"
create raw-articles-dlq 1 --config retention.ms=1209600000
create enriched-duplicates 1
"$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topic raw-articles

existing="$("$BIN/kafka-get-offsets.sh" --bootstrap-server "$BOOTSTRAP" --topic raw-articles \
  | awk -F: '{ sum += $3 } END { print sum + 0 }')"
if [[ "$existing" -gt 0 ]]; then
  echo "kafka-init: raw-articles already holds $existing records; not loading samples again"
  exit 0
fi
# Key = article id, so a partition sees all versions of one story in order.
count=0
while IFS= read -r line; do
  [[ -z "$line" ]] && continue
  id="$(sed -n 's/^{"id": *"\([^"]*\)".*/\1/p' <<<"$line")"
  printf '%s\t%s\n' "${id:-sample-$count}" "$line"
  count=$((count + 1))
done <"$SAMPLES" | "$BIN/kafka-console-producer.sh" --bootstrap-server "$BOOTSTRAP" --topic raw-articles \
  --property parse.key=true --property key.separator=$'\t' --producer-property acks=all
echo "kafka-init: loaded $(grep -c . "$SAMPLES") sample articles into raw-articles"
