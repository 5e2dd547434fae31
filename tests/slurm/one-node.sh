#!/bin/bash
# One Slurm node, for tests/slurm.rs: munged, slurmctld and slurmd with private configuration,
# state, spool, key and socket, run as PID 1 of fresh mount, PID, UTS and network namespaces
# (unshare -m -p -f -u -n --mount-proc), so the daemons see only loopback, cannot outlive this
# script (the kernel kills a PID namespace with its first process) and leave nothing behind.
#
# Environment: WORK (an empty private directory), HWSPEC (the binary), HWSPEC_ARGS (how hwspec
# gets its report: `--backend cpu,opencl` or `--report FILE`), STAND_IN_NODES (device nodes to
# create in a private /dev, e.g. "/dev/nvidia0 /dev/dri/renderD128"; empty keeps the real /dev),
# JOBS (file of srun argument lines to run). Writes hwspec's files to $WORK/etc and every
# command's output and exit status to $WORK/out.
set -u
node=hwspecnode
etc=$WORK/etc out=$WORK/out
mkdir -p "$etc" "$out" "$WORK/state" "$WORK/spool" "$WORK/log" "$WORK/munge"
chmod 700 "$WORK/munge"

hostname "$node"
ip link set lo up
# getaddrinfo(AI_ADDRCONFIG), which Slurm uses, finds no IPv4 address when loopback's is the
# only one; a second address on lo, in this namespace only, is enough.
ip addr add 192.0.2.1/32 dev lo

if [ -n "${STAND_IN_NODES:-}" ]; then
  # A private /dev: the nodes the daemons and commands need, and stand-ins for the GPUs the
  # replayed report names (NVIDIA's major 195, DRM's 226), in a tmpfs nobody else sees.
  mount -t tmpfs -o mode=755 hwspec-dev /dev
  mknod -m 666 /dev/null c 1 3
  mknod -m 666 /dev/zero c 1 5
  mknod -m 666 /dev/full c 1 7
  mknod -m 666 /dev/random c 1 8
  mknod -m 666 /dev/urandom c 1 9
  mknod -m 666 /dev/tty c 5 0
  mkdir -m 1777 /dev/shm
  ln -s /proc/self/fd /dev/fd
  for stand_in in $STAND_IN_NODES; do
    case "$stand_in" in
      /dev/nvidia[0-9]*) mknod -m 666 "$stand_in" c 195 "${stand_in#/dev/nvidia}" ;;
      /dev/dri/renderD[0-9]*)
        mkdir -p /dev/dri
        mknod -m 666 "$stand_in" c 226 "${stand_in#/dev/dri/renderD}" ;;
      *) echo "one-node.sh: no stand-in for $stand_in" >&2; exit 97 ;;
    esac
  done
fi

# hwspec's outputs, as an administrator would install them on this node.
# shellcheck disable=SC2086
"$HWSPEC" probe --format slurm $HWSPEC_ARGS -o "$etc/hwspec-$node.conf" 2>"$out/hwspec-slurm.err" \
  || { echo "hwspec --format slurm failed" >&2; cat "$out/hwspec-slurm.err" >&2; exit 96; }
# shellcheck disable=SC2086
"$HWSPEC" probe --format slurm-gres $HWSPEC_ARGS -o "$etc/gres.conf" 2>"$out/hwspec-gres.err" \
  || { echo "hwspec --format slurm-gres failed" >&2; cat "$out/hwspec-gres.err" >&2; exit 96; }

mungekey --create --keyfile="$WORK/munge/munge.key" || exit 95
munged --force --socket="$WORK/munge/socket" --key-file="$WORK/munge/munge.key" \
  --log-file="$WORK/log/munged.log" --pid-file="$WORK/munge/munged.pid" \
  --seed-file="$WORK/munge/seed" || exit 95

cat > "$etc/slurm.conf" <<CONF
ClusterName=hwspec
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
# No cgroups in a container: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
ReturnToService=2
MpiDefault=none
GresTypes=gpu
# The cluster's own definition of this node; hwspec's include above it adds the features and
# GPUs.
Include $etc/hwspec-$node.conf
NodeName=$node NodeAddr=127.0.0.1 CPUs=1 RealMemory=64 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$etc/slurm.conf

slurmctld -D >"$WORK/log/slurmctld.out" 2>&1 &
slurmd -D -N "$node" >"$WORK/log/slurmd.out" 2>&1 &

# Registered once the node leaves UNKNOWN: IDLE when it accepted the configuration, INVAL or
# DRAIN when it did not. Deadline generous for a loaded machine.
for _ in $(seq 1 240); do
  state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null)
  case "$state" in ''|unknown*|*'#'*) sleep 0.5 ;; *) break ;; esac
done
sinfo -h -N -o '%N|%T|%f|%G' >"$out/sinfo" 2>&1
scontrol show node "$node" >"$out/scontrol" 2>&1

n=0
while IFS= read -r job; do
  [ -z "$job" ] && continue
  n=$((n + 1))
  echo "$job" >"$out/job$n.args"
  # shellcheck disable=SC2086
  timeout 60 srun --immediate=30 $job >"$out/job$n.out" 2>"$out/job$n.err" </dev/null
  echo $? >"$out/job$n.rc"
done <"$JOBS"

# Exiting ends the PID namespace, and the kernel kills munged, slurmctld and slurmd with it.
exit 0
