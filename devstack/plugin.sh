#!/bin/bash
# migcompat devstack plugin: install, enable the scheduler filter and
# weigher on nova-scheduler hosts, run the reporter on compute hosts.
#
# devstack calls this file as "plugin.sh <mode> <phase>" with its own
# functions (is_service_enabled, setup_develop, iniset, ...) defined.

# nova's own default [filter_scheduler] enabled_filters (nova 34), for a
# nova.conf that does not name them.
NOVA_DEFAULT_FILTERS=ComputeFilter,ComputeCapabilitiesFilter,\
ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter

function install_migcompat {
    # One node is scheduler and compute: the reporter and the CLI extras
    # (the base install is the scheduler plugin alone).
    setup_develop "$MIGCOMPAT_DIR" reporter,cli
}

# nova.conf [filter_scheduler]: keep nova's defaults, add ours. Both
# available_filters lines are needed (a MultiStrOpt), and weight_classes is
# a ListOpt: it must stay ONE line, or nova's own weighers are dropped.
function configure_migcompat_scheduler {
    local filters
    iniset "$NOVA_CONF" filter_scheduler available_filters \
        nova.scheduler.filters.all_filters
    iniadd "$NOVA_CONF" filter_scheduler available_filters \
        migcompat_filter.scheduler.all_filters
    filters=$(iniget "$NOVA_CONF" filter_scheduler enabled_filters)
    if [[ -z "$filters" ]]; then
        # devstack's lib/nova sets FILTERS to the list it writes itself.
        # shellcheck disable=SC2153
        filters=${FILTERS:-$NOVA_DEFAULT_FILTERS}
    fi
    if [[ ",$filters," != *",MigrationCompatibilityFilter,"* ]]; then
        iniset "$NOVA_CONF" filter_scheduler enabled_filters \
            "${filters},MigrationCompatibilityFilter"
    fi
    if [[ "$MIGCOMPAT_ENABLE_WEIGHER" == "True" ]]; then
        iniset "$NOVA_CONF" filter_scheduler weight_classes \
            "nova.scheduler.weights.all_weighers,migcompat_filter.scheduler.all_weighers"
    fi
}

# The reporter as a systemd timer, as etc/systemd/ ships it, run as the
# user devstack runs nova-compute as.
function configure_migcompat_reporter {
    local unit_dir=/etc/systemd/system
    local migcompat_bin
    migcompat_bin=$(command -v migcompat || echo /usr/local/bin/migcompat)
    sed -e "s|^User=.*|User=$STACK_USER|" \
        -e "s|^Group=.*|Group=$STACK_USER|" \
        -e "s|^ExecStart=.*|ExecStart=$migcompat_bin --config-file $NOVA_CPU_CONF profile publish|" \
        "$MIGCOMPAT_DIR/etc/systemd/migcompat-report.service" \
        | sudo tee "$unit_dir/migcompat-report.service" >/dev/null
    sed -e "s|^OnUnitActiveSec=.*|OnUnitActiveSec=$MIGCOMPAT_REPORT_INTERVAL|" \
        "$MIGCOMPAT_DIR/etc/systemd/migcompat-report.timer" \
        | sudo tee "$unit_dir/migcompat-report.timer" >/dev/null
    sudo systemctl daemon-reload
}

function start_migcompat_reporter {
    sudo systemctl enable --now migcompat-report.timer
    # Publish once now, so the first live migration finds the traits.
    sudo systemctl start migcompat-report.service || \
        echo "migcompat: the first report failed; see journalctl -u migcompat-report"
}

function stop_migcompat_reporter {
    sudo systemctl disable --now migcompat-report.timer || true
}

function cleanup_migcompat_reporter {
    sudo rm -f /etc/systemd/system/migcompat-report.service \
        /etc/systemd/system/migcompat-report.timer
    sudo systemctl daemon-reload || true
}

if is_service_enabled migcompat; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing migcompat"
        install_migcompat
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        if is_service_enabled n-sch; then
            echo_summary "Enabling the migcompat filter and weigher"
            configure_migcompat_scheduler
        fi
        if is_service_enabled n-cpu; then
            echo_summary "Configuring the migcompat reporter"
            configure_migcompat_reporter
        fi
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        if is_service_enabled n-cpu; then
            start_migcompat_reporter
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_migcompat_reporter
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_migcompat_reporter
    fi
fi
