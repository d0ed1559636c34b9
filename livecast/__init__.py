"""livecast: a live-streaming control plane (GraphQL over streams, chat, viewers, health) with pluggable providers."""
