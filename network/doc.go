// Package network gives each container group its network: a network
// namespace pinned by a bind mount, so that it outlives any process and every
// container of the group can join it by path; an interface and an address on
// leci's bridge, set up by the standard CNI plugins through libcni; and the
// hosts, hostname and resolv.conf files that the group's containers see.
//
// A Manager owns one CNI network. By default it is leci's own, written by
// New from typed values: "leci", bridge leci0 on 10.89.0.0/16 (10.88.0.0/16
// is podman's) with host-local addresses, an optional IPv6 range (Subnet6)
// for the groups that ask for IPv6, the firewall plugin when asked, portmap
// and bandwidth. Or it is the user's, loaded by name from a directory of
// conflists (UserNetwork, UserConfDir). What a group asks beyond an address
// (published ports, bandwidth limits) reaches the plugins only as typed
// runtime values (libcni's capability arguments), never as conflist text.
//
// Setup and Teardown are the group's CNI ADD and DEL with the namespace's
// life around them (on leci's own IPv4 network, the bridge plugin's ADD
// and DEL run in-process: see inProcessExec); Check is CNI CHECK, for a daemon that recovers its
// groups. Before every ADD and DEL the intent is written to the group's
// journal file, with the configuration and runtime values DEL needs, so
// that GC, run at start-up, can DEL what a killed leci left and then sweep
// every address allocation, namespace, veth, ifb device and iptables chain
// of the network that no live group owns.
//
// Everything a Manager writes lives under the directories of its Config, so
// several leci roots (and tests) can run side by side with their own
// bridges and subnets.
//
// Code that must run inside a group's namespace goes through netns.Run,
// which runs a closure on a locked OS thread switched into the namespace.
package network
