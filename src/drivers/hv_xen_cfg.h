/*
 * xl.cfg → libxl domain configuration for the xen driver (hv_xen_cfg.c):
 * the supported subset is in docs/xen.md.  Internal to src/drivers.
 */
#ifndef XENHA_HV_XEN_CFG_H
#define XENHA_HV_XEN_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <libxl.h>

#define HV_XEN_ERR_MAX 512   /* room for any message of hv_xen_cfg_build */

/*
 * xl.cfg text for domain `name` → *dc (initialised by the caller with
 * libxl_domain_config_init and disposed by the caller in every case):
 * name, type, memory, vcpus, kernel/ramdisk/cmdline, disks, nics, on_*
 * actions, a generated uuid and the xenha marker (xsdata: generation,
 * memory, incarnation NODEID-GENERATION-UUID).  memory_mb 0: xl.cfg must
 * give memory.  0, -EINVAL with err = "xl.cfg:LINE: ..." or -ENOMEM.
 */
int hv_xen_cfg_build(const char *name, const char *text, uint32_t memory_mb,
		     uint64_t generation, uint32_t nodeid, libxl_domain_config *dc,
		     char *err, size_t errlen);

#endif
