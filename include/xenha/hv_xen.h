/*
 * The "xen" hypervisor driver (src/drivers/hv_xen.c, built with
 * --with-xen): hv_xen_ops in include/xenha/hv.h, plus the xl.cfg check it
 * runs before every start, exported so a caller can refuse a bad
 * definition before it reaches a host.  See docs/xen.md.
 */
#ifndef XENHA_HV_XEN_H
#define XENHA_HV_XEN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Check xl.cfg text `xlcfg` for domain `name` against the subset the
 * driver supports (docs/xen.md): libxlutil's syntax, known keys only,
 * values in range, `name` (if set) equal to `name`, `memory` (if set) equal
 * to memory_mb (if memory_mb is not 0), every disk spec accepted by
 * xlu_disk_parse and every vif spec by the driver.  Returns 0, or -EINVAL
 * with err = "xl.cfg:LINE: what was wrong" (or "xl.cfg: ..." where
 * libxlutil gives no line); -ENOMEM.  No Xen needed: no I/O but libxlutil's.
 */
int hv_xen_cfg_check(const char *name, const char *xlcfg, uint32_t memory_mb,
		     char *err, size_t errlen);

#endif
