#!/bin/bash
# tests/xen/image.sh - the dom0 image of the Xen lab, cached under $XEN_LAB_DIR/img.
#   rootfs: debootstrap bookworm (Xen 4.17, dom0 kernel, corosync, open-iscsi,
#           multipath-tools, the libraries xenha links) - rebuilt only when PKGS change
#   image:  tests/xen/dom0/ copied in, ssh key, corosync authkey, a small initramfs,
#           dom0.img (ext4 made with mkfs.ext4 -d, no loop device) - rebuilt when those change
# Hosts boot dom0.img with -snapshot, so one image serves every host.  xenha itself is
# not in the image: each boot installs the build under test from the 9p share.
# usage: image.sh [force]      Env: XEN_LAB_DIR, MIRROR (default: this machine's Debian archive)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
IMG=$LAB/img
ROOTFS=$LAB/rootfs
PKGS=linux-image-amd64,xen-hypervisor-4.17-amd64,xen-utils-4.17,xen-utils-common,xenstore-utils
PKGS+=,busybox-static,iproute2,iputils-ping,kmod,udev,procps,bridge-utils,netbase,less,util-linux
PKGS+=,open-iscsi,multipath-tools,sg3-utils,openssh-server,openssh-client,socat,wget
# what xenha links (configure.ac): libqb, corosync's cpg/votequorum/cmap/quorum, json-c, inih, zlib, gnutls
PKGS+=,corosync,libqb100,libcpg4,libquorum5,libvotequorum8,libcmap4,libcfg7
PKGS+=,libjson-c5,libinih1,zlib1g,libgnutls30
[ "$(id -u)" = 0 ] || die "run as root"
for t in debootstrap mkfs.ext4 cpio zcat ssh-keygen; do command -v $t >/dev/null ||
	die "missing $t: apt-get install debootstrap e2fsprogs cpio gzip openssh-client"; done
MIRROR=${MIRROR:-$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources /dev/null 2>/dev/null |
	tr ' ' '\n' | grep -E '/debian/?$' | head -1)}
MIRROR=${MIRROR:-$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
mkdir -p "$IMG"
t0=$(now)

# ------------------------------------------------------------------ rootfs
want=$(echo "$PKGS" | md5sum | cut -c1-12)
if [ "${1:-}" = force ] || [ "$(cat "$LAB/rootfs.stamp" 2>/dev/null)" != "$want" ]; then
	[ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt; set MIRROR"
	echo "image: debootstrap bookworm from $MIRROR (a few minutes)"
	rm -rf "$ROOTFS" "$LAB/rootfs.stamp"
	debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$MIRROR" >"$LAB/debootstrap.log" 2>&1 ||
		{ tail -20 "$LAB/debootstrap.log"; die "debootstrap failed (log $LAB/debootstrap.log)"; }
	rm -f "$ROOTFS"/var/cache/apt/archives/*.deb
	echo "$want" > "$LAB/rootfs.stamp"
fi

# ------------------------------------------------------------------- image
want=$(cat "$LAB/rootfs.stamp" "$0" "$XEN_DIR"/dom0/* | md5sum | cut -c1-12)
if [ "${1:-}" != force ] && [ "$(cat "$IMG/stamp" 2>/dev/null)" = "$want" ] && [ -f "$IMG/dom0.img" ]; then
	echo "image: cached $IMG/dom0.img ($want)"
	exit 0
fi
D=$ROOTFS
KV=$(ls "$D/lib/modules" | sort -V | tail -1)
chroot "$D" passwd -d root >/dev/null
printf '/dev/vda / ext4 rw,noatime 0 1\n' > "$D/etc/fstab"
install -m 755 "$XEN_DIR"/dom0/* "$D/usr/local/sbin/"
ln -sf /usr/local/sbin/xh-init "$D/sbin/xh-init"
chroot "$D" getent group haclient >/dev/null || chroot "$D" groupadd --system haclient
mkdir -p "$D/var/log/xen/console" "$D/var/log/xenha" "$D/var/lib/xenha" "$D/etc/xenha" "$D/root/.ssh"
grep -q '^XENCONSOLED_ARGS=' "$D/etc/default/xen" ||
	echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> "$D/etc/default/xen"
[ -f "$IMG/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C xhlab -f "$IMG/id_ed25519"
cp "$IMG/id_ed25519.pub" "$D/root/.ssh/authorized_keys"
chmod 700 "$D/root/.ssh"; chmod 600 "$D/root/.ssh/authorized_keys"
printf 'UseDNS no\nPermitRootLogin prohibit-password\n' > "$D/etc/ssh/sshd_config.d/xhlab.conf"
[ -s "$D/etc/corosync/authkey" ] || { head -c 256 /dev/urandom > "$D/etc/corosync/authkey"; chmod 400 "$D/etc/corosync/authkey"; }

# a 2-3 MB dom0 initramfs: busybox + virtio/ext4 modules, mounts root= and switch_roots to init=
R=$(mktemp -d "$LAB/initrd.XXXXXX")
MS=$D/lib/modules/$KV
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/newroot" "$R/lib/modules/$KV"
cp "$D/bin/busybox" "$R/bin/"
for a in sh mount umount modprobe switch_root sleep; do ln -s busybox "$R/bin/$a"; done
for m in virtio_pci virtio_blk ext4 crc32c_generic; do
	for f in $(grep -E "/$m.ko:" "$MS/modules.dep" | tr -d ':'); do
		mkdir -p "$R/lib/modules/$KV/$(dirname "$f")"; cp "$MS/$f" "$R/lib/modules/$KV/$f"
	done
done
cp "$MS"/modules.{dep,alias,symbols,builtin,order} "$R/lib/modules/$KV/" 2>/dev/null || true
cat > "$R/init" <<-'EOF'
	#!/bin/sh
	mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
	for m in crc32c_generic virtio_pci virtio_blk ext4; do modprobe $m 2>/dev/null; done
	init=/sbin/init
	for a in $(cat /proc/cmdline); do case $a in init=*) init=${a#init=};; esac; done
	n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
	mount -o ro /dev/vda /newroot || exec sh
	mount --move /dev /newroot/dev; umount /proc /sys
	exec switch_root /newroot $init
EOF
chmod 755 "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$IMG/initrd"
rm -rf "$R"

# the PV test guest: the dom0 kernel + a busybox initramfs that takes its address from the
# kernel command line (xip=A.B.C.D) and serves HTTP on port 80 (busybox httpd).  Its disk
# xvda is the SAN's data LUN (/dev/mapper/data in every dom0): each boot counts itself in
# the LUN's first sector ("xhboot N"), and the page says "boot N", so a restart on another
# host shows that it found the same disk.
R=$(mktemp -d "$LAB/initrd.XXXXXX")
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/lib" "$R/www"
cp "$D/bin/busybox" "$R/bin/"
for a in sh mount ip insmod sleep cat httpd dd tr sed; do ln -s busybox "$R/bin/$a"; done
cp "$MS/kernel/drivers/net/xen-netfront.ko" "$MS/kernel/drivers/block/xen-blkfront.ko" "$R/lib/"
cat > "$R/init" <<-'EOF'
	#!/bin/sh
	mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
	insmod /lib/xen-netfront.ko
	insmod /lib/xen-blkfront.ko
	for a in $(cat /proc/cmdline); do case $a in xip=*) xip=${a#xip=};; esac; done
	n=0; while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n+1)); done
	ip link set lo up; ip link set eth0 up; ip addr add "$xip/24" dev eth0
	n=0; while [ ! -b /dev/xvda ] && [ $n -lt 150 ]; do sleep 0.2; n=$((n+1)); done
	boot=$(dd if=/dev/xvda bs=512 count=1 2>/dev/null | tr -d '\000' | sed -n 's/^xhboot \([0-9][0-9]*\)$/\1/p')
	boot=$((${boot:-0} + 1))
	echo "xhboot $boot" | dd of=/dev/xvda bs=512 count=1 conv=sync,fsync 2>/dev/null || boot="$boot (disk write failed)"
	[ -b /dev/xvda ] || boot="? (no disk)"
	echo "xenha lab guest $xip boot $boot" > /www/index.html
	httpd -p 80 -h /www
	echo "GUEST-HTTP-UP $xip"
	while :; do sleep 3600; done
EOF
chmod 755 "$R/init"
mkdir -p "$D/root/domu"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$D/root/domu/web.cpio.gz"
rm -rf "$R"
cp "$D/boot/vmlinuz-$KV" "$D/root/domu/vmlinuz"
cat > "$D/root/domu/web.cfg" <<-'EOF'
	# PV guest serving HTTP; its address: xl create web.cfg 'extra="console=hvc0 xip=A.B.C.D"'
	name = "web"
	type = "pv"
	kernel = "/root/domu/vmlinuz"
	ramdisk = "/root/domu/web.cpio.gz"
	extra = "console=hvc0"
	memory = 128
	vcpus = 1
	vif = [ "bridge=xenbr0" ]
	disk = [ "phy:/dev/mapper/data,xvda,w" ]
EOF

cp "$D/boot/vmlinuz-$KV" "$IMG/vmlinuz"
# QEMU's multiboot loader takes Xen only uncompressed
zcat "$(ls "$D"/boot/xen-4.17*-amd64.gz | sort -V | tail -1)" > "$IMG/xen"
rm -f "$IMG/dom0.img.new"
mkfs.ext4 -q -F -L root -d "$D" "$IMG/dom0.img.new" 2G
mv -f "$IMG/dom0.img.new" "$IMG/dom0.img"
echo "$want" > "$IMG/stamp"
echo "image: built $IMG/dom0.img in $(since "$t0") s"
