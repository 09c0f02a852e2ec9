#!/bin/bash
# Prepare a fresh Debian machine for migcompat's tests and demo: the system
# packages of bindep.txt, a running libvirtd with QEMU, and tox. Idempotent:
# what is already there is left alone. Needs root (as on CI).
set -euo pipefail

PACKAGES="libvirt-dev pkg-config gcc python3-dev libvirt-daemon \
libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 shellcheck"

log() { echo "setup-host: $*" >&2; }

missing=()
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done
# Another apt (unattended-upgrades at a cloud image's first boot) may hold
# the dpkg lock: wait for it, bounded, and say so instead of failing.
DPKG_LOCK_TIMEOUT=${DPKG_LOCK_TIMEOUT:-600}
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (waiting up to ${DPKG_LOCK_TIMEOUT}s for" \
        "another apt holding the dpkg lock)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout="$DPKG_LOCK_TIMEOUT" update -qq
    apt-get -o DPkg::Lock::Timeout="$DPKG_LOCK_TIMEOUT" install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirtd's QEMU driver wants these users, groups and folders (Debian's
# postinst creates them under systemd; containers skip that).
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt >/dev/null || groupadd -r libvirt
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g kvm -G libvirt-qemu \
    -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt
# Without udev (containers), /dev/kvm stays root-only: libvirt then sees KVM
# as "not available now", discards its QEMU capabilities cache and re-probes
# QEMU on every call (seconds each). Debian's udev rule sets this.
if [ -c /dev/kvm ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

# libvirtd hands each guest's console log to virtlogd: without it, starting
# any guest fails with "Failed to connect socket to
# '/run/libvirt/virtlogd-sock'" (queries work, guests do not start). The
# tests start real guests, so virtlogd runs too; its socket says it is up
# (a socket left behind by a dead virtlogd does not count).
virtlogd_up() {
    [ -S /run/libvirt/virtlogd-sock ] || return 1
    ! command -v pgrep >/dev/null || pgrep -x virtlogd >/dev/null
}
if ! virtlogd_up; then
    log "starting virtlogd"
    virtlogd -d
    for _ in $(seq 1 30); do
        [ -S /run/libvirt/virtlogd-sock ] && break
        sleep 1
    done
    [ -S /run/libvirt/virtlogd-sock ] \
        || { log "virtlogd did not create its socket"; exit 1; }
fi

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
    log "starting libvirtd"
    libvirtd -d
    for _ in $(seq 1 60); do
        virsh -c qemu:///system version >/dev/null 2>&1 && break
        sleep 1
    done
fi
virsh -c qemu:///system version >/dev/null \
    || { log "libvirtd did not answer on qemu:///system"; exit 1; }
# The first capabilities query probes QEMU and takes seconds; do it once
# here so that tests and the demo see libvirt warm.
virsh -c qemu:///system capabilities >/dev/null

command -v tox >/dev/null 2>&1 || python3 -m pip install -q "tox>=4"
log "ready: libvirt $(virsh -c qemu:///system version | sed -n 's/Using library: //p')"
