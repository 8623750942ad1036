/* placeholder: the fence-agent helper writes this header (see its brief) */
#ifndef XENHA_FENCEAGENT_H
#define XENHA_FENCEAGENT_H
#endif
