package ramswap.cli;

import java.util.ArrayList;
import java.util.List;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;
import javax.management.ReflectionException;
import ramswap.store.Counter;
import ramswap.store.Knob;

/**
 * The node's counters and knobs as one read-only MBean beside Hazelcast's: an attribute per name
 * the mount's {@code stats} and knob files use, in their units, described as they are there.
 */
final class MetricsBean implements DynamicMBean {

    private final Metrics metrics;
    private final MBeanInfo info;

    MetricsBean(Metrics metrics) {
        this.metrics = metrics;
        List<MBeanAttributeInfo> attributes = new ArrayList<>();
        for (Counter c : Counter.values()) {
            attributes.add(new MBeanAttributeInfo(c.fileName(), "long", c.description(), true, false, false));
        }
        for (Knob k : Knob.values()) {
            attributes.add(
                    new MBeanAttributeInfo(k.fileName(), "long", "knob: " + k.description(), true, false, false));
        }
        this.info = new MBeanInfo(
                MetricsBean.class.getName(),
                "ramswap: one node's counters and knobs",
                attributes.toArray(MBeanAttributeInfo[]::new),
                null,
                new MBeanOperationInfo[0],
                null);
    }

    @Override
    public Object getAttribute(String name) throws AttributeNotFoundException {
        Counter c = Counter.byFileName(name);
        if (c != null) {
            metrics.refresh();
            return metrics.counters().get(c);
        }
        Knob k = Knob.byFileName(name);
        if (k != null) {
            return metrics.knobs().get(k);
        }
        throw new AttributeNotFoundException("no counter or knob named " + name);
    }

    @Override
    public AttributeList getAttributes(String[] names) {
        AttributeList list = new AttributeList();
        for (String name : names) {
            try {
                list.add(new Attribute(name, getAttribute(name)));
            } catch (AttributeNotFoundException e) {
                // JMX's contract: the names it does not know are left out of the list
            }
        }
        return list;
    }

    @Override
    public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
        throw new AttributeNotFoundException("read-only: set knobs with ramswap set (" + attribute.getName() + ")");
    }

    @Override
    public AttributeList setAttributes(AttributeList attributes) {
        return new AttributeList();
    }

    @Override
    public Object invoke(String action, Object[] params, String[] signature) throws ReflectionException {
        throw new ReflectionException(new NoSuchMethodException(action), "no operations");
    }

    @Override
    public MBeanInfo getMBeanInfo() {
        return info;
    }
}
