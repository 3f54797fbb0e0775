package host

import (
	"errors"
	"net/http"
	"net/netip"

	"leci/api"
	"leci/network"
	"leci/runtime"
)

// checkAddress refuses a PrivateIpAddress that this host's network cannot
// give: outside its subnet, or given to a group already.
func (c Config) checkAddress(req *api.CreateContainerGroupRequest) api.Errors {
	if req.PrivateIPAddress == "" {
		return nil
	}
	addr, err := netip.ParseAddr(req.PrivateIPAddress)
	if err != nil {
		return nil // Validate said so
	}
	switch err := c.NetworkConfig().CheckAddress(addr); {
	case errors.Is(err, network.ErrAddressInUse):
		return api.Errors{{Code: runtime.CodeAddressInUse, Status: http.StatusBadRequest, Field: "PrivateIpAddress", Message: err.Error()}}
	case err != nil:
		return api.Errors{{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: "PrivateIpAddress", Message: err.Error()}}
	}
	return nil
}
