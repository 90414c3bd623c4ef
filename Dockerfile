# Image for the Complement conformance suite (https://github.com/matrix-org/complement):
# runs "ganglion complement" (client API on 8008, SERVER_NAME from the environment, state in /data).
# It holds only a statically linked binary built on the host; from the repository root:
#
#   CGO_ENABLED=1 go build -tags 'osusergo netgo sqlite_omit_load_extension' \
#     -ldflags '-s -w -extldflags "-static"' -o ganglion ./cmd/ganglion
#   DOCKER_BUILDKIT=0 docker build -t complement-ganglion:latest .
#
# then run Complement with COMPLEMENT_BASE_IMAGE=complement-ganglion:latest.
FROM scratch
COPY ganglion /ganglion
# WORKDIR creates the directories that a scratch image lacks: /tmp for
# SQLite's temporary files, /data for the database and key.
WORKDIR /tmp
WORKDIR /data
ENV SQLITE_TMPDIR=/tmp
EXPOSE 8008 8448
ENTRYPOINT ["/ganglion", "complement"]
