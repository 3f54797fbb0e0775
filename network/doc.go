// Package network gives each container group its network: a network
// namespace pinned by a bind mount, so that it outlives any process and every
// container of the group can join it by path; an interface and an address on
// leci's bridge, set up by the standard CNI plugins through libcni; and the
// hosts, hostname and resolv.conf files that the group's containers see.
//
// A Manager owns one CNI network (by default "leci", bridge leci0 on
// 10.89.0.0/16; 10.88.0.0/16 is podman's). New writes the network's conflist
// from typed values; Setup and Teardown are the group's CNI ADD and DEL with
// the namespace's life around them. Everything a Manager writes lives under
// the directories of its Config, so several leci roots (and tests) can run
// side by side with their own bridges and subnets.
//
// Code that must run inside a group's namespace goes through RunInNetNS,
// which runs a closure on a locked OS thread switched into the namespace.
package network
