// The status page served at / by HttpServer: one self-contained HTML document
// (inline CSS and JavaScript, nothing fetched from elsewhere) that polls
// /status.json every second and renders the cluster at a glance: nodes and
// their states, who cannot reach whom, lag per link, keys, and the rights
// each node holds on each reservation counter.
//
// One node sees its own links only. Given `?nodes=host:port,...` (other
// nodes' HTTP addresses), the page also polls their /status.json and shows
// every node's links in one matrix.
#ifndef CONVERGE_NODE_INTERNAL_STATUS_PAGE_H_
#define CONVERGE_NODE_INTERNAL_STATUS_PAGE_H_

#include <string_view>

namespace converge {

extern const std::string_view kStatusPageHtml;

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_STATUS_PAGE_H_
